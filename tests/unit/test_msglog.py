"""``fixbridge log``: which rows each criterion selects, its exports, its errors, and that it
only ever reads the journal."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from fixbridge.cli import main
from fixbridge.fix import logbook
from fixbridge.fix.codec import FixMessage, FrameParser, encode_fields, frame
from fixbridge.journal.sqlite import SqliteJournal
from tests.unit.fixmsg import BRIDGE, CLIENT, STAMP, client_msg

# 2026-01-02T03:04:05Z, and a second later.
T1 = 1_767_323_045_000_000_000
S = 1_000_000_000


def report(seq: int, *fields: tuple[int, str]) -> bytes:
    head = encode_fields([(49, BRIDGE), (56, CLIENT), (34, str(seq)), (52, STAMP)])
    return frame("8", head, encode_fields(fields))


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A journal holding six logged messages of two sessions; left open (the bridge runs)."""
    path = tmp_path / "j.db"
    j = SqliteJournal(path, synchronous="normal")
    j.log_messages(
        [
            logbook.received_entry("a", 0, client_msg("A", 1, (98, "0"), (108, "30")), T1),
            logbook.sent_entry("a", 0, report(2, (37, "O1"), (11, "C1"), (17, "E1")), T1 + S),
            logbook.sent_entry("a", 0, report(3, (37, "O1"), (11, "C1"), (17, "E10")), T1 + 2 * S),
            logbook.sent_entry("b", 2, report(7, (552, "1"), (1427, "E1")), T1 + 3 * S),
            logbook.received_entry("b", 2, client_msg("0", 9), T1 + 4 * S),
            logbook.sent_entry("a", 1, report(1, (58, "a|b"), (17, "E2")), T1 + 5 * S),
        ]
    )
    yield path
    j.close()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["log", *args])
    out, err = capsys.readouterr()
    return code, out, err


def selected(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> list[tuple[str, int]]:
    """(session, seq) of each row ``args`` select, from the JSON Lines export."""
    code, out, err = run(capsys, "--journal", str(path), "--format", "jsonl", *args)
    assert (code, err) == (0, "")
    return [(row["session"], row["seq"]) for row in map(json.loads, out.splitlines())]


def test_every_row_in_the_order_logged(capsys: pytest.CaptureFixture[str], journal: Path) -> None:
    assert selected(capsys, journal) == [("a", 1), ("a", 2), ("a", 3), ("b", 7), ("b", 9), ("a", 1)]


def test_each_criterion(capsys: pytest.CaptureFixture[str], journal: Path) -> None:
    assert selected(capsys, journal, "--session", "b") == [("b", 7), ("b", 9)]
    assert selected(capsys, journal, "--direction", "in") == [("a", 1), ("b", 9)]
    assert selected(capsys, journal, "--epoch", "1") == [("a", 1)]
    assert selected(capsys, journal, "--msg-type", "Heartbeat", "--msg-type", "A") == [
        ("a", 1),
        ("b", 9),
    ]
    # --since is inclusive, --until exclusive: one second from T1 + 1 s.
    window = ["--since", "2026-01-02T03:04:06Z", "--until", "2026-01-02T04:04:07+01:00"]
    assert selected(capsys, journal, *window) == [("a", 2)]
    # A whole field: E1 is not E10; a trade report side's SideExecID counts.
    assert selected(capsys, journal, "--exec-id", "E1") == [("a", 2), ("b", 7)]
    assert selected(capsys, journal, "--order-id", "O1", "--cl-ord-id", "C1") == [
        ("a", 2),
        ("a", 3),
    ]
    assert selected(capsys, journal, "--session", "a", "--exec-id", "E1") == [("a", 2)]


def test_csv_and_jsonl_hold_the_same_rows(
    capsys: pytest.CaptureFixture[str], journal: Path
) -> None:
    _, lines, _ = run(capsys, "--journal", str(journal), "--format", "jsonl")
    _, table, _ = run(capsys, "--journal", str(journal), "--format", "csv")
    from_json = [json.loads(line) for line in lines.splitlines()]
    from_csv = list(csv.DictReader(io.StringIO(table)))
    assert len(from_csv) == len(from_json) == 6
    for row, record in zip(from_csv, from_json, strict=True):
        assert row.keys() == record.keys()
        assert json.loads(row["fields"]) == record["fields"]
        assert {k: v for k, v in row.items() if k != "fields"} == {
            k: str(v) for k, v in record.items() if k != "fields"
        }
    last = from_json[-1]
    # A value holding "|" is exact among the fields, whatever the raw text shows.
    assert [58, "a|b"] in last["fields"]
    assert last["logged_at"] == "2026-01-02T03:04:10Z"
    assert (last["msg_type"], last["msg_type_name"], last["epoch"]) == ("8", "ExecutionReport", 1)
    assert last["raw"].startswith("8=FIXT.1.1|9=") and last["raw"].endswith("|")


def test_parquet_and_files_hold_the_same_rows_as_stdout(
    capsys: pytest.CaptureFixture[str], journal: Path, tmp_path: Path
) -> None:
    """Parquet (read back with pyarrow, which wrote it) and --out files hold the rows the
    JSON Lines export prints, with the CSV's columns; the files are private."""
    pq = pytest.importorskip("pyarrow.parquet")
    _, lines, _ = run(capsys, "--journal", str(journal), "--format", "jsonl")
    from_json = [json.loads(line) for line in lines.splitlines()]
    parquet, jsonl = tmp_path / "log.parquet", tmp_path / "log.jsonl"
    for form, out in (("parquet", parquet), ("jsonl", jsonl)):
        args = ("--journal", str(journal), "--format", form, "--out", str(out))
        code, printed, err = run(capsys, *args)
        assert (code, printed, err) == (0, "", "")
    table = pq.read_table(parquet)
    assert table.column_names == list(from_json[0])
    from_parquet = [{**row, "fields": json.loads(row["fields"])} for row in table.to_pylist()]
    assert from_parquet == from_json
    assert jsonl.read_text(encoding="utf-8") == lines
    assert {parquet.stat().st_mode & 0o777, jsonl.stat().st_mode & 0o777} == {0o600}


def test_the_readable_form_names_tags_and_values(
    capsys: pytest.CaptureFixture[str], journal: Path
) -> None:
    code, out, _ = run(capsys, "--journal", str(journal), "--session", "a", "--epoch", "0")
    assert code == 0
    first, second, _ = out.splitlines()
    assert first.startswith("2026-01-02T03:04:05Z a in  epoch=0 MsgType=A(Logon) MsgSeqNum=1")
    assert "ExecID=E1" in second and "MsgType=8(ExecutionReport)" in second


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterday"], "--since: not an RFC 3339 time: 'yesterday'"),
        (["--until", "2026-01-02"], "--until: not an RFC 3339 time"),
        (
            ["--since", "2026-01-02T00:00:00Z", "--until", "2026-01-01T00:00:00Z"],
            "--until must be after --since",
        ),
        (["--msg-type", "8;DROP"], "--msg-type: not a MsgType"),
        (["--exec-id", "E1\x0117=E2"], "--exec-id: not a field value"),
        (["--format", "parquet"], "--format parquet writes a file: give --out FILE"),
        (["--out", __file__], "exists already"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], journal: Path, args: list[str], says: str
) -> None:
    code, out, err = run(capsys, "--journal", str(journal), *args)
    assert (code, out) == (2, "")
    assert err.startswith("fixbridge log: ") and says in err and err.count("\n") == 1


def test_a_missing_journal_or_one_without_a_log_is_one_line_and_left_as_it_was(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--journal", str(tmp_path / "none.db"))
    assert code == 1 and err == f"fixbridge log: no journal file at {tmp_path / 'none.db'}\n"
    old = tmp_path / "old.db"
    db = sqlite3.connect(old)
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '7');"
    )
    db.commit()
    db.close()
    code, _, err = run(capsys, "--journal", str(old))
    assert code == 1 and "has no message log" in err and err.count("\n") == 1
    db = sqlite3.connect(old)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
    db.close()
    assert tables == ["meta", "sqlite_autoindex_meta_1"]  # read, never migrated nor written


def test_what_a_client_wrote_cannot_run_in_a_spreadsheet_or_a_terminal(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A client controls its SendingTime and Text: a CSV cell starting like a formula gets a
    leading ' (OWASP's advice for CSV exports), and the readable form shows an escape
    sequence as text instead of sending it to the operator's terminal."""
    path = tmp_path / "j.db"
    j = SqliteJournal(path, synchronous="normal")
    hostile = frame(
        "1",
        encode_fields([(49, CLIENT), (56, BRIDGE), (34, "2"), (52, "=HYPERLINK(\"x\")")]),
        encode_fields([(112, "\x1b[2J")]),
    )
    (parsed,) = FrameParser().feed(hostile)
    assert isinstance(parsed, FixMessage)
    j.log_messages([logbook.received_entry("a", 0, parsed, T1)])
    j.close()
    _, table, _ = run(capsys, "--journal", str(path), "--format", "csv")
    (row,) = csv.DictReader(io.StringIO(table))
    assert row["sending_time"] == "'=HYPERLINK(\"x\")"
    _, text, _ = run(capsys, "--journal", str(path))
    assert "\x1b" not in text and "\\x1b[2J" in text
