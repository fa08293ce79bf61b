"""The FIX message log end to end: a real bridge, a scripted client, a sequence reset and a
restart, then ``fixbridge log`` run as an operator runs it (a subprocess, the journal read
read-only) shows every message the client saw and sent, both directions, in every epoch, and
its CSV, JSON Lines and Parquet exports hold the same rows."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pyarrow_parquet
import pytest

from fixbridge.fix.codec import FixMessage
from fixbridge.fix.credentials import hash_password
from tests.integration.bridge_proc import REPO
from tests.integration.inprocess import ExecutionFeed, bridge, port_of
from tests.integration.rawfix import RawClient

pytestmark = pytest.mark.integration

BRIDGE, CLIENT, PASSWORD = "FIXBRIDGE", "CLIENT_A", "s3cret-Pw"
SECURED = {
    "name": "a",
    "sender_comp_id": BRIDGE,
    "target_comp_id": CLIENT,
    "username": "ops",
    "password_hash": hash_password(PASSWORD),
}
CREDENTIALS = ((553, "ops"), (554, PASSWORD))


def fixbridge_log(journal: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fixbridge", "log", "--journal", str(journal), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def wire(raw_text: str) -> bytes:
    """An exported raw message back to its bytes (SOH is shown as '|')."""
    return raw_text.encode().replace(b"|", b"\x01")


def masked(frame: bytes) -> bytes:
    """What the log must keep of a frame the client sent: its Password(554) masked."""
    return frame.replace(b"\x01554=%s\x01" % PASSWORD.encode(), b"\x01554=***\x01")


def has(box: list[FixMessage], msg_type: str, count: int = 1) -> bool:
    return len([m for m in box if m.msg_type == msg_type]) >= count


def test_the_log_shows_every_message_of_every_epoch_across_a_reset_and_a_restart(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.db"
    seen: dict[str, Any] = {}

    async def conversations() -> None:
        async with bridge(tmp_path, [SECURED]) as b:
            ids = ExecutionFeed(b).append(5)
            client = RawClient(CLIENT, BRIDGE)
            await client.connect(port_of(b))
            client.logon(*CREDENTIALS)
            await client.read_until(lambda box: has(box, "8", 5))
            client.send("1", (112, "T1"))
            await client.read_until(lambda box: has(box, "0"))
            client.send("2", (7, "2"), (16, "3"))  # two executions again, PossDup
            await client.read_until(lambda box: has(box, "8", 7))
            client.send("D", (11, "ORD-1"), (55, "X"), (54, "1"), (60, "20260101-00:00:00"))
            await client.read_until(lambda box: has(box, "j"))
            seen["epoch0_out"] = [m.raw for m in client.inbox]
            seen["epoch0_in"] = list(client.sent)
            # Sequence reset inside the session: both sides start again at 1.
            client.seq = 1
            client.logon(*CREDENTIALS, reset=True)
            await client.read_until(lambda box: has(box, "A", 2))
            client.send("5")
            assert await client.closed_by_peer()
            seen["epoch1_out"] = [m.raw for m in client.inbox][len(seen["epoch0_out"]) :]
            seen["epoch1_in"] = client.sent[len(seen["epoch0_in"]) :]
            seen["ids"] = ids
        async with bridge(tmp_path, [SECURED]) as b:  # the bridge restarted
            again = RawClient(CLIENT, BRIDGE)
            again.seq = 3
            await again.connect(port_of(b))
            again.logon(*CREDENTIALS)
            await again.read_until(lambda box: has(box, "A"))
            again.send("5")
            assert await again.closed_by_peer()
            seen["epoch1_out"] += [m.raw for m in again.inbox]
            seen["epoch1_in"] += again.sent

    asyncio.run(asyncio.wait_for(conversations(), timeout=60))

    exported = fixbridge_log(journal, "--session", "a", "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    for epoch in (0, 1):
        for direction in ("out", "in"):
            frames = seen[f"epoch{epoch}_{direction}"]
            logged = [
                wire(r["raw"]) for r in rows if r["epoch"] == epoch and r["direction"] == direction
            ]
            expected = [masked(f) for f in frames] if direction == "in" else frames
            assert logged == expected, (epoch, direction)
    assert len(rows) == sum(len(v) for k, v in seen.items() if k.startswith("epoch"))
    assert PASSWORD not in exported.stdout

    # The epoch before the reset: every message the client sent and saw, in both directions.
    epoch0 = [(r["direction"], r["msg_type"], r["seq"]) for r in rows if r["epoch"] == 0]
    assert [(d, t) for d, t, _ in epoch0 if d == "in"] == [
        ("in", "A"), ("in", "1"), ("in", "2"), ("in", "D"),
    ]  # fmt: skip
    assert [t for d, t, _ in epoch0 if d == "out"] == ["A", *["8"] * 5, "0", "8", "8", "j"]
    # Each row's parsed fields are its raw message's, and its columns are those fields'.
    for r in rows:
        fields = [(int(tag), value) for tag, value in r["fields"]]
        assert "|".join(f"{tag}={value}" for tag, value in fields) + "|" == r["raw"]
        header = dict(reversed(fields))  # each tag's first value
        assert (r["msg_type"], str(r["seq"]), r["sending_time"], r["session"]) == (
            header[35], header[34], header[52], "a",
        )  # fmt: skip

    table = fixbridge_log(journal, "--session", "a", "--format", "csv")
    assert table.returncode == 0, table.stderr
    from_csv = [
        {
            **row,
            "id": int(row["id"]),
            "epoch": int(row["epoch"]),
            "seq": int(row["seq"]),
            "logged_at_ns": int(row["logged_at_ns"]),
            "fields": json.loads(row["fields"]),
        }
        for row in csv.DictReader(io.StringIO(table.stdout))
    ]
    assert from_csv == rows
    parquet = tmp_path / "log.parquet"
    made = fixbridge_log(journal, "--session", "a", "--format", "parquet", "--out", str(parquet))
    assert made.returncode == 0, made.stderr
    from_parquet = [
        {**row, "fields": json.loads(row["fields"])}
        for row in pyarrow_parquet.read_table(parquet).to_pylist()
    ]
    assert from_parquet == rows

    first_id = seen["ids"][0]  # delivered once, then replayed
    found = fixbridge_log(journal, "--exec-id", first_id, "--format", "jsonl")
    assert [(r["direction"], r["seq"]) for r in map(json.loads, found.stdout.splitlines())] == [
        ("out", 2),
        ("out", 2),
    ]
    readable = fixbridge_log(journal, "--session", "a", "--direction", "in", "--epoch", "0")
    assert readable.returncode == 0, readable.stderr
    lines = readable.stdout.splitlines()
    assert len(lines) == 4
    assert "MsgType=A(Logon)" in lines[0] and "Password=***" in lines[0]
