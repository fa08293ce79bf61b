"""The status renderings: the same facts as JSON, an escaped HTML page and a terminal table."""

from __future__ import annotations

import json

from fixbridge.ops.status import (
    BridgeStatus,
    SessionStatus,
    StreamStatus,
    iso,
    status_html,
    status_json,
    status_text,
)

HOSTILE = '<script>alert("x")</script>&'


def status(reason: str | None = HOSTILE) -> BridgeStatus:
    session = SessionStatus(
        name="bo", sender_comp_id="FB", target_comp_id="<BO&>", state="logged_on", paused=False,
        in_schedule=True, peer="10.0.0.7:50412", logon_time=iso(1_796_486_400_250_000_000),
        next_sender_seq=14, next_target_seq=2, cursor=12, backlog=0, last_sent=None,
        last_received=None, window_start=None, window_end=None,
    )  # fmt: skip
    stream = StreamStatus(
        name="executions", connected=False, catching_up=True, resume_mode="resume_token",
        last_response=None, newest_transact_time=None, lag_s=1.5, events_stored=12,
        duplicates=0, flagged=0, reconnects=3,
    )  # fmt: skip
    return BridgeStatus("0.1.0", iso(1_796_486_401_000_000_000), reason is None, reason,
                        "/var/lib/fixbridge/j.db", 12, [session], [stream])  # fmt: skip


def test_iso_is_utc_with_milliseconds_and_none_for_never() -> None:
    assert iso(1_796_486_400_250_000_000) == "2026-12-05T16:00:00.250Z"
    assert iso(0) is None and iso(None) is None


def test_json_carries_every_field() -> None:
    data = json.loads(status_json(status()))
    assert data["sessions"][0]["target_comp_id"] == "<BO&>"
    assert data["sessions"][0]["logon_time"] == "2026-12-05T16:00:00.250Z"
    assert data["streams"][0]["reconnects"] == 3 and data["ready"] is False


def test_html_escapes_every_value_and_has_no_script() -> None:
    page = status_html(status()).decode()
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "<td>&lt;BO&amp;&gt;</td>" in page
    assert page.startswith("<!DOCTYPE html>")


def test_text_table_lines_up_sessions_and_streams() -> None:
    text = status_text(json.loads(status_json(status(None))))
    lines = text.splitlines()
    assert lines[0] == "fixbridge 0.1.0 at 2026-12-05T16:00:01.000Z: ready"
    header, row = lines[3], lines[4]
    assert header.split()[:4] == ["session", "state", "paused", "in"]
    assert row.split()[:5] == ["bo", "logged_on", "no", "yes", "<BO&>"]
    assert row.index("logged_on") == header.index("state")
    assert "executions" in lines[7] and lines[7].split()[1] == "no"
