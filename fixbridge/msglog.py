"""``fixbridge log``: search a journal's FIX message log; print it readably or export it.

For compliance and support: what was sent to whom and when, months later, in either
direction, across sequence resets. Rows are selected by session, time (our clock when the
message was logged), MsgType, direction, reset epoch and the ExecID/ClOrdID/OrderID values a
message carries, in the order they were logged. The default output is one readable line per
message (tag and enum names from ``fix/dictionary.py``, as ``fixbridge tail`` prints them);
``--format csv`` and ``--format jsonl`` export one row per message with the same columns.

Reads the journal on a read-only connection, so it is safe beside a running bridge; it must
never write to the journal, and it reads rows one at a time, never the whole log at once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from fixbridge.fix.codec import SOH, split_fields
from fixbridge.fix.dictionary import MSG_TYPES, describe
from fixbridge.journal.store import JournalError
from fixbridge.simulator.times import from_rfc3339, to_rfc3339

FORMATS = ("text", "csv", "jsonl", "parquet")
PARQUET_BATCH = 10_000  # rows per Parquet row group: memory stays flat on a long export
COLUMNS = (
    "id", "session", "direction", "epoch", "seq", "sending_time", "logged_at", "logged_at_ns",
    "msg_type", "msg_type_name", "raw", "fields",
)  # fmt: skip
# The tags --exec-id, --cl-ord-id and --order-id look for (a trade capture report's sides
# carry their execution's id as SideExecID).
ID_TAGS = {"exec_id": (17, 1427), "cl_ord_id": (11,), "order_id": (37,)}
_MSG_TYPE_CODES = {name.lower(): code for code, name in MSG_TYPES.items()}


class LogArgumentError(ValueError):
    """An argument of ``fixbridge log`` that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class LoggedMessage:
    """One row of the message log, as read back."""

    id: int
    session: str
    direction: str
    epoch: int
    seq: int | None
    sending_time: str
    logged_at_ns: int
    msg_type: str
    raw: bytes

    @property
    def fields(self) -> list[tuple[int, str]]:
        try:
            return list(split_fields(self.raw))
        except ValueError:  # not a frame our parser reads: the raw text still says it all
            return []

    def row(self) -> dict[str, object]:
        """The export columns (COLUMNS), the raw message as text with SOH shown as ``|``."""
        return {
            "id": self.id,
            "session": self.session,
            "direction": self.direction,
            "epoch": self.epoch,
            "seq": self.seq,
            "sending_time": self.sending_time,
            "logged_at": to_rfc3339(self.logged_at_ns),
            "logged_at_ns": self.logged_at_ns,
            "msg_type": self.msg_type,
            "msg_type_name": MSG_TYPES.get(self.msg_type, ""),
            "raw": readable_raw(self.raw),
            "fields": [[tag, value] for tag, value in self.fields],
        }

    def line(self) -> str:
        """One readable line: when, which session, which way, which epoch, then the fields;
        control characters a client sent are shown escaped, never passed to the terminal."""
        shown = describe(self.fields) or readable_raw(self.raw)
        when = to_rfc3339(self.logged_at_ns)
        line = f"{when} {self.session} {self.direction:<3} epoch={self.epoch} {shown}"
        return _printable(line)


@dataclass(frozen=True, slots=True)
class Query:
    """What to select; every criterion given must hold (several values of one: any)."""

    sessions: tuple[str, ...] = ()
    since_ns: int | None = None  # logged at or after
    until_ns: int | None = None  # logged before
    msg_types: tuple[str, ...] = ()
    direction: str | None = None
    epoch: int | None = None
    ids: tuple[tuple[str, str], ...] = ()  # (exec_id | cl_ord_id | order_id, value)

    def where(self) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        if self.sessions:
            clauses.append(f"session_id IN ({','.join('?' * len(self.sessions))})")
            params += self.sessions
        if self.since_ns is not None:
            clauses.append("logged_at >= ?")
            params.append(self.since_ns)
        if self.until_ns is not None:
            clauses.append("logged_at < ?")
            params.append(self.until_ns)
        if self.msg_types:
            clauses.append(f"msg_type IN ({','.join('?' * len(self.msg_types))})")
            params += self.msg_types
        if self.direction is not None:
            clauses.append("direction = ?")
            params.append(self.direction)
        if self.epoch is not None:
            clauses.append("epoch = ?")
            params.append(self.epoch)
        for kind, value in self.ids:
            # The field whole, between its delimiters: 17=E1 never matches 17=E10 or 917=E1.
            found = [b"%s%d=%s%s" % (SOH, tag, value.encode(), SOH) for tag in ID_TAGS[kind]]
            clauses.append("(" + " OR ".join("instr(raw, ?) > 0" for _ in found) + ")")
            params += found
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _printable(text: str) -> str:
    return text.translate(_CONTROL)


def _csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def readable_raw(raw: bytes) -> str:
    """The message's bytes as text, SOH shown as ``|`` (other bytes that are not UTF-8 as
    ``\\xNN`` escapes)."""
    return raw.replace(SOH, b"|").decode("utf-8", errors="backslashreplace")


def open_log(path: Path) -> sqlite3.Connection:
    """A read-only connection to the journal at ``path``, which must hold a message log."""
    if not path.is_file():
        raise JournalError(f"no journal file at {path}")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='message_log'"
        ).fetchone()
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read journal {path}: {exc}") from exc
    if table is None:
        db.close()
        raise JournalError(
            f"journal {path} has no message log: it was written by a fixbridge older than the"
            " message log (schema version 8); the bridge adds it at its next start and logs"
            " from then on"
        )
    return db


def read_log(db: sqlite3.Connection, query: Query) -> Iterator[LoggedMessage]:
    """The rows ``query`` selects, in the order they were logged, one at a time."""
    where, params = query.where()
    try:
        rows = db.execute(
            "SELECT id, session_id, direction, epoch, seq, sending_time, logged_at, msg_type,"
            f" raw FROM message_log{where} ORDER BY id",
            params,
        )
        for id_, session, direction, epoch, seq, sending_time, at, msg_type, raw in rows:
            yield LoggedMessage(
                int(id_),
                str(session),
                str(direction),
                int(epoch),
                None if seq is None else int(seq),
                str(sending_time),
                int(at),
                str(msg_type),
                bytes(raw),
            )
    except sqlite3.Error as exc:
        raise JournalError(f"reading the message log failed: {exc}") from exc


def write_messages(messages: Iterator[LoggedMessage], form: str, out: TextIO) -> int:
    """Write ``messages`` in ``form`` (text, csv, jsonl); how many were written."""
    count = 0
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n") if form == "csv" else None
    if writer is not None:
        writer.writeheader()
    for message in messages:
        count += 1
        if form == "text":
            out.write(message.line() + "\n")
            continue
        row = message.row()
        if writer is not None:
            cells = {**row, "fields": json.dumps(row["fields"], ensure_ascii=False)}
            writer.writerow({key: _csv_cell(value) for key, value in cells.items()})
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return count


def write_parquet(messages: Iterator[LoggedMessage], out: Path) -> int:
    """Write ``messages`` to the Parquet file ``out`` (it must not exist), with the CSV
    columns and values (``fields`` as the same JSON text); how many were written. Needs
    pyarrow (``pip install 'fixbridge[parquet]'``)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise LogArgumentError(
            "--format parquet needs pyarrow: pip install 'fixbridge[parquet]'"
        ) from None
    text, integer = pa.string(), pa.int64()
    types = {"id": integer, "epoch": integer, "seq": integer, "logged_at_ns": integer}
    schema = pa.schema([(name, types.get(name, text)) for name in COLUMNS])
    count = 0
    with open(out, "xb") as sink, pq.ParquetWriter(sink, schema) as writer:
        batch: list[dict[str, object]] = []
        for message in messages:
            row = message.row()
            batch.append({**row, "fields": json.dumps(row["fields"], ensure_ascii=False)})
            if len(batch) == PARQUET_BATCH:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch:
            writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
            count += len(batch)
    return count


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--session", action="append", default=[], help="a session's name (repeat for several)"
    )
    parser.add_argument("--since", help="logged at or after this RFC 3339 time")
    parser.add_argument("--until", help="logged before this RFC 3339 time")
    parser.add_argument(
        "--msg-type",
        action="append",
        default=[],
        help="MsgType(35), e.g. 8 or ExecutionReport (repeat for several)",
    )
    parser.add_argument("--direction", choices=["in", "out"], help="in: from the client")
    parser.add_argument("--epoch", type=int, help="the session's reset epoch")
    parser.add_argument("--exec-id", help="messages carrying this ExecID(17) or SideExecID(1427)")
    parser.add_argument("--cl-ord-id", help="messages carrying this ClOrdID(11)")
    parser.add_argument("--order-id", help="messages carrying this OrderID(37)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), csv, jsonl, or parquet (needs --out and pyarrow)",
    )
    parser.add_argument(
        "--out", type=Path, help="write to this new file (created 0600) instead of stdout"
    )


def query_from_args(args: argparse.Namespace) -> Query:
    """The query the arguments describe; ``LogArgumentError`` names a bad one."""
    since, until = _instant(args.since, "--since"), _instant(args.until, "--until")
    if since is not None and until is not None and until <= since:
        raise LogArgumentError("--until must be after --since")
    ids = tuple(
        (kind, str(value))
        for kind in ID_TAGS
        if (value := getattr(args, kind)) is not None
    )  # fmt: skip
    for kind, value in ids:
        if not value or "\x01" in value or "=" in value:
            raise LogArgumentError(f"--{kind.replace('_', '-')}: not a field value: {value!r}")
    return Query(
        sessions=tuple(args.session),
        since_ns=since,
        until_ns=until,
        msg_types=tuple(_msg_type(t) for t in args.msg_type),
        direction=args.direction,
        epoch=args.epoch,
        ids=ids,
    )


def _instant(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return from_rfc3339(text)
    except ValueError:
        raise LogArgumentError(
            f"{option}: not an RFC 3339 time: {text!r} (e.g. 2026-12-05T09:30:00Z)"
        ) from None


def _msg_type(text: str) -> str:
    """A MsgType code as given, or the code of a MsgType name (``ExecutionReport`` -> 8)."""
    code = _MSG_TYPE_CODES.get(text.lower())
    if code is not None:
        return code
    if not text or not text.isalnum() or len(text) > 8:
        raise LogArgumentError(f"--msg-type: not a MsgType: {text!r}")
    return text


def run_log(path: Path, args: argparse.Namespace) -> int:
    """``fixbridge log`` on the journal at ``path``: 0 done (even with no match), 1 the
    journal cannot be read, 2 a bad argument; errors are one line on stderr."""
    try:
        query = query_from_args(args)
        if args.format == "parquet" and args.out is None:
            raise LogArgumentError("--format parquet writes a file: give --out FILE")
        if args.out is not None and args.out.exists():
            raise LogArgumentError(f"--out: {args.out} exists already")
    except LogArgumentError as exc:
        print(f"fixbridge log: {exc}", file=sys.stderr)
        return 2
    try:
        db = open_log(path)
        try:
            _export(read_log(db, query), args.format, args.out)
        finally:
            db.close()
    except LogArgumentError as exc:
        print(f"fixbridge log: {exc}", file=sys.stderr)
        return 2
    except (JournalError, OSError) as exc:
        print(f"fixbridge log: {exc}", file=sys.stderr)
        return 1
    return 0


def _export(messages: Iterator[LoggedMessage], form: str, out: Path | None) -> None:
    """To stdout, or to the new private file ``out`` (removed again if the export fails)."""
    if out is None:
        write_messages(messages, form, sys.stdout)
        return
    old_umask = os.umask(0o077)  # what the log holds is the firm's business: 0600
    try:
        if form == "parquet":
            write_parquet(messages, out)
        else:
            with open(out, "x", encoding="utf-8", newline="") as sink:
                write_messages(messages, form, sink)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        os.umask(old_umask)
