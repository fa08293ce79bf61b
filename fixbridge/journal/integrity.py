"""Is a journal file sound? SQLite's own structural check, then the bridge's invariants.

Two depths. At start-up the bridge runs SQLite's quick check (every page and b-tree, no
index-against-table comparison) and refuses a file that fails it. ``fixbridge check-journal``
runs the full check on a read-only connection (it can run beside a live bridge) and adds what
only the bridge knows: each session's stored messages below its next sequence number, its
cursor inside the journal, every recorded batch's messages still stored (a missing one is
re-rendered on resend, but an operator should know), and, with ``--full``, every event's
payload readable by this version.

Reads only: never repairs, deletes or rewrites anything, and never reports a finding without
naming the table, session or event it is about.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fixbridge.journal import sent_batches
from fixbridge.journal.store import JournalError
from fixbridge.normalize.errors import NormalizationError
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.normalize.instrument import InstrumentEvent
from fixbridge.normalize.position import PositionEvent
from fixbridge.normalize.settlement import Settlement
from fixbridge.normalize.trade import TradeEvent

MAX_REPORTED = 20  # findings of one kind listed before they are only counted
PROGRESS_EVERY = 1000  # events decoded between two progress reports

_DECODERS: dict[str, Callable[[bytes], object]] = {
    "executions": ExecutionEvent.from_payload,
    "trades": TradeEvent.from_payload,
    "instruments": InstrumentEvent.from_payload,
    "positions": PositionEvent.from_payload,
    "settlements": Settlement.from_payload,
}


class JournalCorrupt(JournalError):
    """The journal file is damaged: SQLite's integrity check failed on it."""


@dataclass(slots=True)
class Findings:
    """What a check found: ``problems`` make the journal unfit to serve; ``notes`` are worth
    an operator's attention but the bridge copes with them."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # what was looked at, for the report

    @property
    def sound(self) -> bool:
        return not self.problems


def structural_problems(db: sqlite3.Connection, *, full: bool) -> list[str]:
    """SQLite's ``quick_check`` (or ``integrity_check``): empty when the file is sound."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = db.execute(f"PRAGMA {pragma}({MAX_REPORTED})").fetchall()
    except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
        return [str(exc)]
    found = [str(row[0]) for row in rows]
    return [] if found == ["ok"] else found


def check_journal(
    path: Path, *, full: bool = False, progress: Callable[[int, int], None] | None = None
) -> Findings:
    """Check the journal at ``path`` read-only (rules: module doc); ``progress(done, total)``
    is told how far the payload decoding of ``full`` has got."""
    if not path.is_file():
        raise JournalError(f"no journal file at {path}")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open journal {path}: {exc}") from exc
    findings = Findings()
    try:
        findings.checked.append("SQLite integrity_check" if full else "SQLite quick_check")
        findings.problems += [f"SQLite: {p}" for p in structural_problems(db, full=full)]
        if findings.problems:
            return findings  # the tables cannot be trusted: nothing more to read from them
        _check_sessions(db, findings)
        if full:
            _check_payloads(db, findings, progress or (lambda done, total: None))
    except sqlite3.DatabaseError as exc:
        findings.problems.append(f"reading {path} failed: {exc}")
    finally:
        db.close()
    return findings


def _check_sessions(db: sqlite3.Connection, findings: Findings) -> None:
    head = int(db.execute("SELECT COALESCE(MAX(offset), 0) FROM events").fetchone()[0])
    sessions = db.execute(
        "SELECT session_id, next_sender_seq, cursor_offset FROM sessions ORDER BY session_id"
    ).fetchall()
    findings.checked.append(f"{len(sessions)} session(s), journal head offset {head}")
    tables = {str(row[0]) for row in db.execute("SELECT name FROM sqlite_master")}
    recorded = "sent_ranges" in tables
    if not recorded:
        findings.notes.append(
            "written by an older fixbridge: where stored messages came from is recorded from"
            " its next start on (earlier ones cannot be rendered again on resend)"
        )
    for session_id, next_sender_seq, cursor in sessions:
        top = sent_batches.stored_top(db, str(session_id))  # schema 10's layout, or 9's
        if top is not None and int(top) >= int(next_sender_seq):
            findings.problems.append(
                f"session {session_id}: a message numbered {top} is stored but the next number"
                f" to send is {next_sender_seq} (numbers would be sent twice)"
            )
        if int(cursor) > head:
            findings.problems.append(
                f"session {session_id}: cursor {cursor} is past the last event ({head})"
            )
        missing = _missing_stored(db, str(session_id)) if recorded else []
        if missing:
            shown = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in missing[:MAX_REPORTED])
            total = sum(b - a + 1 for a, b in missing)
            findings.notes.append(
                f"session {session_id}: {total} sent message(s) missing from the outbound"
                f" store ({shown}); a resend renders them again from their events"
            )


def _missing_stored(db: sqlite3.Connection, session_id: str) -> list[tuple[int, int]]:
    """Numbers of recorded batches with no stored message, as inclusive runs."""
    runs: list[tuple[int, int]] = []
    ranges = db.execute(
        "SELECT first_seq, last_seq FROM sent_ranges WHERE session_id=? ORDER BY first_seq",
        (session_id,),
    )
    for first, last in ranges.fetchall():
        stored = {
            m.seq for m in sent_batches.stored_messages(db, session_id, int(first), int(last))
        }
        for seq in range(int(first), int(last) + 1):
            if seq in stored:
                continue
            if runs and runs[-1][1] == seq - 1:
                runs[-1] = (runs[-1][0], seq)
            else:
                runs.append((seq, seq))
    return runs


def _check_payloads(
    db: sqlite3.Connection, findings: Findings, progress: Callable[[int, int], None]
) -> None:
    unreadable: list[str] = []
    count = 0
    total = int(db.execute("SELECT COUNT(*) FROM events WHERE flagged IS NULL").fetchone()[0])
    rows = db.execute(
        "SELECT offset, stream, upstream_id, payload FROM events WHERE flagged IS NULL"
        " ORDER BY offset"
    )
    for offset, stream, upstream_id, payload in rows:
        count += 1
        if count % PROGRESS_EVERY == 0:
            progress(count, total)
        decode = _DECODERS.get(str(stream))
        if decode is None:
            unreadable.append(f"event {offset} ({stream} {upstream_id}): unknown stream")
            continue
        try:
            decode(bytes(payload))
        except (NormalizationError, ValueError, KeyError, TypeError) as exc:
            unreadable.append(f"event {offset} ({stream} {upstream_id}): {exc}")
    progress(count, total)
    findings.checked.append(f"{count} event payload(s) decoded")
    if unreadable:
        shown = "; ".join(unreadable[:MAX_REPORTED])
        findings.problems.append(
            f"{len(unreadable)} event payload(s) this version cannot read: {shown}"
        )
