"""The journal's side of a reconciliation, read-only: one trade date's executions and trades,
and what each session's store holds of what it was sent.

The file is opened with SQLite's ``mode=ro`` (it may be in use by a running bridge, whose WAL
readers do not block it). Events are selected by their transact time within a day of the
trade date's window, then kept by their own trade date. What a session was sent is read by
:func:`sent_to_session` alone: the permanent message log (every epoch), with the resend
store. This module must never write the journal.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fixbridge.journal import sent_batches
from fixbridge.journal.rules import INT64_MAX
from fixbridge.journal.store import JournalError
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.trade import TradeEvent
from fixbridge.normalize.tradedate import EXCHANGE_TIME_ZONE, ROLL_TIME
from fixbridge.proto.polymarket.v1 import orders_pb2, trading_pb2
from fixbridge.reconcile.compare import SentWindow
from fixbridge.reconcile.records import execution_date, trade_date_of

STREAMS = ("executions", "trades")
_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_SOH = b"\x01"


@dataclass(frozen=True, slots=True)
class Journaled:
    offset: int
    stream: str
    key: str  # upstream_id
    decoded: ExecutionEvent | TradeEvent | None  # None: flagged or unreadable payload


def open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise JournalError(f"no journal file at {path}")
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open journal {path}: {exc}") from exc


def trade_date_window(date: dt.date) -> tuple[int, int]:
    """[start, end) in ns of the instants whose trade date is ``date``: from 17:00 New York
    time the day before to 17:00 New York time that day (normalize/tradedate.py)."""
    end = dt.datetime.combine(date, ROLL_TIME, EXCHANGE_TIME_ZONE)
    start = dt.datetime.combine(date - dt.timedelta(days=1), ROLL_TIME, EXCHANGE_TIME_ZONE)
    return int(start.timestamp()) * _NS, int(end.timestamp()) * _NS


def search_window(date: dt.date) -> tuple[int, int]:
    """The trade date's window widened by a day each way: an exchange-given trade date may
    differ from the one its time implies, and events are kept by their own date."""
    start, end = trade_date_window(date)
    return start - _DAY_NS, end + _DAY_NS


def _bytes(value: bytes | str) -> bytes:
    """A BLOB column as bytes (a row rewritten by hand may hold TEXT)."""
    return value.encode() if isinstance(value, str) else bytes(value)


def _decode(stream: str, payload: bytes) -> ExecutionEvent | TradeEvent | None:
    if not payload:
        return None
    try:
        if stream == "executions":
            return ExecutionEvent.from_payload(payload)
        return TradeEvent.from_payload(payload)
    except (NormalizationError, ValueError):
        return None


def _raw_date(stream: str, raw: bytes) -> str:
    try:
        if stream == "executions":
            return execution_date(trading_pb2.Execution.FromString(raw))
        return trade_date_of(orders_pb2.Trade.FromString(raw))
    except Exception:  # any undecodable bytes: the event has no date
        return ""


def journal_events(db: sqlite3.Connection, date: dt.date) -> Iterator[Journaled]:
    """Every execution and trade event whose trade date is ``date``, in journal order."""
    wanted = date.strftime("%Y%m%d")
    start, end = search_window(date)
    rows = db.execute(
        "SELECT offset, stream, upstream_id, payload, raw FROM events"
        " WHERE stream IN (?, ?) AND transact_time >= ? AND transact_time < ? ORDER BY offset",
        (*STREAMS, start, end),
    )
    for offset, stream, key, payload, raw in rows:
        decoded = _decode(stream, _bytes(payload))
        # Payloads of old versions may carry no trade date: the upstream message has one.
        day = (decoded.trade_date if decoded is not None else None) or _raw_date(
            stream, _bytes(raw))
        if day == wanted:
            yield Journaled(int(offset), str(stream), str(key), decoded)


@dataclass(frozen=True, slots=True)
class SentStore:
    """What a session's store holds for one trade date."""

    known: bool  # the journal has a record of the session at all
    window: SentWindow
    messages: frozenset[str]  # "8:<ExecID>", "AE:<TradeReportID>" with TradeDate(75) = date


def _fields(body: bytes) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = {}
    for part in body.split(_SOH):
        tag, sep, value = part.partition(b"=")
        if sep and tag not in fields:
            fields[tag] = value
    return fields


def _identity(msg_type: str, body: bytes, date: str) -> str | None:
    fields = _fields(body)
    if fields.get(b"75", b"").decode("ascii", "replace") != date:
        return None
    tag = {"8": b"17", "AE": b"571"}.get(msg_type)
    if tag is None or tag not in fields:
        return None
    return f"{msg_type}:{fields[tag].decode('utf-8', 'replace')}"


def sent_to_session(db: sqlite3.Connection, session: str, date: dt.date) -> SentStore:
    """The ExecutionReports and TradeCaptureReports of ``date`` the journal shows ``session``
    was sent, and the journal offsets that covers: the message log's (every epoch, never
    emptied by a sequence reset) together with the resend store's. The coverage runs
    from the session's origin when the message log was already recording before the date
    began (and retention, which removes the oldest rows first, left all of the date); else
    from the oldest batch the store holds (a sequence reset or retention removes what came
    before). Up to the session's cursor either way."""
    row = db.execute(
        "SELECT cursor_offset, origin_offset FROM sessions WHERE session_id=?", (session,)
    ).fetchone()
    if row is None:
        return SentStore(False, SentWindow(0, 0, 0), frozenset())
    cursor, origin = int(row[0]), int(row[1])
    oldest = db.execute(
        "SELECT MIN(after_offset) FROM sent_ranges WHERE session_id=?", (session,)
    ).fetchone()
    covered_from = cursor if oldest is None or oldest[0] is None else int(oldest[0])
    wanted = date.strftime("%Y%m%d")
    messages = {
        ident
        for msg_type, body in _stored_reports(db, session)
        if (ident := _identity(msg_type, body, wanted)) is not None
    }
    logged, log_covers = _logged(db, session, wanted, trade_date_window(date)[0])
    if log_covers:
        covered_from = origin
    return SentStore(True, SentWindow(origin, max(covered_from, origin), cursor),
                     frozenset(messages | logged))  # fmt: skip


def _stored_reports(db: sqlite3.Connection, session: str) -> Iterator[tuple[str, bytes]]:
    """The (MsgType, body) of the ExecutionReports and TradeCaptureReports the session's store
    holds (either layout: a file no bridge of this version opened yet is read as it is)."""
    for message in sent_batches.stored_messages(db, session, 1, INT64_MAX):
        if message.msg_type in ("8", "AE"):
            yield message.msg_type, message.body


def _logged(
    db: sqlite3.Connection, session: str, wanted: str, date_start_ns: int
) -> tuple[set[str], bool]:
    """The date's reports the message log shows ``session`` was sent, and whether the log
    holds everything since the date began (it was recording before, and nothing after was
    removed)."""
    has_log = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='message_log'"
    ).fetchone()
    if has_log is None:
        return set(), False
    found = {
        ident
        for msg_type, raw in db.execute(
            "SELECT msg_type, raw FROM message_log WHERE session_id=? AND direction='out'"
            " AND msg_type IN ('8', 'AE')",
            (session,),
        )
        if (ident := _identity(str(msg_type), _bytes(raw), wanted)) is not None
    }
    (first,) = db.execute("SELECT MIN(logged_at) FROM message_log").fetchone()
    return found, first is not None and int(first) <= date_start_ns
