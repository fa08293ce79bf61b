"""Running ``fixbridge reconcile --date D`` and printing its findings.

Exit codes: 0 everything agrees; 1 differences found (listed); 2 bad usage or configuration
(bad --date, missing or invalid config); 3 the reconciliation could not be made (journal
unreadable, exchange unreachable or refusing). Errors are one line on stderr, progress goes to
stderr, findings to stdout (a table, or ``--format json``). Secrets (tokens, keys) are never
printed. It must never write the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import grpc

from fixbridge.config import BridgeConfig, SessionConfig
from fixbridge.journal.store import JournalError
from fixbridge.normalize.tradedate import trade_date
from fixbridge.reconcile.compare import (
    Event,
    EventDiff,
    Expected,
    FieldValue,
    SessionDiff,
    compare_events,
    compare_session,
    date_notes,
)
from fixbridge.reconcile.exchange_side import report_events
from fixbridge.reconcile.journal_side import (
    Journaled,
    journal_events,
    open_read_only,
    sent_to_session,
)
from fixbridge.reconcile.records import compared, session_messages
from fixbridge.upstream.auth import AuthError, TokenSource
from fixbridge.upstream.channel import open_channel
from fixbridge.upstream.report import SearchPacer

EXIT_AGREE = 0
EXIT_DIFFERENCES = 1
EXIT_UNUSABLE = 2
EXIT_FAILED = 3


class ReconcileError(Exception):
    """The reconciliation could not be made; the message says why, in one line."""


def parse_date(text: str) -> dt.date:
    """``YYYY-MM-DD`` (argparse type: a bad date is a one-line usage error, exit 2)."""
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else _bad(text)
    except ValueError:
        return _bad(text)


def _bad(text: str) -> dt.date:
    raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}")


@dataclass(frozen=True, slots=True)
class SessionFinding:
    diff: SessionDiff
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Findings:
    date: dt.date
    exchange_events: int
    journal_events: int
    events: list[EventDiff]
    sessions: list[SessionFinding]
    notes: tuple[str, ...] = ()

    @property
    def agrees(self) -> bool:
        return not self.events and all(s.diff.agrees for s in self.sessions)


def _session_finding(
    session: SessionConfig, journaled: Sequence[Journaled], db: Any, date: dt.date
) -> SessionFinding:
    store = sent_to_session(db, session.name, date)
    expected = [
        Expected(message, item.offset)
        for item in journaled
        if item.decoded is not None
        for message in session_messages(session.scope, item.decoded)
    ]
    diff = compare_session(session.name, expected, store.messages, store.window)
    notes: list[str] = []
    if not store.known:
        notes.append("the journal has no record of this session: it never logged on")
    if diff.unchecked:
        notes.append(
            f"its store no longer covers journal offsets up to {store.window.covered_from}"
            f" (sequence reset or retention): {diff.unchecked} message(s) of the date not checked"
        )
    return SessionFinding(diff, tuple(notes))


Fetch = Callable[[BridgeConfig, dt.date, Callable[[str], None]], Coroutine[Any, Any, list[Event]]]


async def fetch_report(
    config: BridgeConfig, date: dt.date, say: Callable[[str], None]
) -> list[Event]:
    """The exchange's events of ``date``, through the bridge's upstream settings and auth."""
    channel = open_channel(config.upstream)
    try:
        metadata = None
        if config.upstream.auth is not None:
            metadata = await TokenSource(config.upstream.auth).metadata()

        def progress(method: str, pages: int, events: int) -> None:
            say(f"{method}: page {pages}, {events} event(s) of the date so far")

        return await report_events(
            channel, metadata, config.upstream, date, pacer=SearchPacer(), progress=progress,
            sleep=_announced_sleep(say),
        )
    except grpc.aio.AioRpcError as exc:
        raise ReconcileError(
            f"Report API at {config.upstream.target}: {exc.code().name}: {exc.details()}"
        ) from None
    except AuthError as exc:
        raise ReconcileError(f"no access token: {exc}") from None
    finally:
        await channel.close()


def _announced_sleep(say: Callable[[str], None]) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        say(f"waiting {seconds:.1f} s for the Report API rate limit")
        await asyncio.sleep(seconds)

    return sleep


def current_trade_date() -> dt.date:
    """Today's exchange trade date (the one clock read of a reconciliation)."""
    text = trade_date(time.time_ns())
    return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def reconcile(
    config: BridgeConfig,
    journal: Path,
    date: dt.date,
    say: Callable[[str], None],
    fetch: Fetch = fetch_report,
    today: dt.date | None = None,
) -> Findings:
    """Compare ``date`` in the journal at ``journal`` with the exchange and every session."""
    db = open_read_only(journal)
    try:
        say(f"reading the journal {journal} (read-only)")
        journaled = list(journal_events(db, date))
        say(f"{len(journaled)} execution/trade event(s) of {date} in the journal")
        exchange = asyncio.run(fetch(config, date, say))
        ours = [compared(j.stream, j.key, j.decoded) for j in journaled]
        sessions = [_session_finding(s, journaled, db, date) for s in config.sessions]
    except sqlite3.Error as exc:
        raise ReconcileError(f"reading {journal} failed: {exc}") from None
    finally:
        db.close()
    age = ((today or current_trade_date()) - date).days
    notes = date_notes(date.isoformat(), age, config.journal.retain_days)
    return Findings(date, len(exchange), len(ours), compare_events(exchange, ours), sessions,
                    tuple(notes))


# ------------------------------------------------------------------------------------ output


def _text(value: FieldValue) -> str:
    return "(none)" if value is None else str(value)


def render_table(findings: Findings, out: TextIO) -> None:
    f = findings
    print(f"reconcile {f.date}: {f.exchange_events} event(s) in the exchange's report,"
          f" {f.journal_events} in the journal", file=out)
    if not f.events:
        print("journal vs exchange: agree", file=out)
    else:
        print(f"journal vs exchange: {len(f.events)} difference(s)", file=out)
        print(f"  {'KIND':<10} {'STREAM':<11} IDENTITY", file=out)
        for d in f.events:
            print(f"  {d.kind:<10} {d.stream:<11} {d.key}", file=out)
            for field in d.fields:
                print(f"  {'':<10} {'':<11}   {field.field}: exchange {_text(field.exchange)}"
                      f" journal {_text(field.journal)}", file=out)
    for s in f.sessions:
        sd = s.diff
        state = "agrees" if sd.agrees else "DIFFERS"
        print(f"session {sd.session}: {state}", file=out)
        for label, items in (("not sent", sd.not_sent), ("not yet sent", sd.pending),
                             ("sent, not expected", sd.unexpected)):
            for item in items:
                print(f"  {label:<18} {item}", file=out)
        for note in s.notes:
            print(f"  note: {note}", file=out)
    for note in f.notes:
        print(f"note: {note}", file=out)
    print("result: " + ("all agree" if f.agrees else "DIFFERENCES FOUND"), file=out)


def _json_value(value: FieldValue) -> str | bool | None:
    return str(value) if isinstance(value, Decimal) else value


def as_json(findings: Findings) -> dict[str, Any]:
    f = findings
    return {
        "date": f.date.isoformat(),
        "agree": f.agrees,
        "exchange_events": f.exchange_events,
        "journal_events": f.journal_events,
        "notes": list(f.notes),
        "events": [
            {
                "kind": d.kind, "stream": d.stream, "id": d.key,
                "fields": [
                    {"field": x.field, "exchange": _json_value(x.exchange),
                     "journal": _json_value(x.journal)}
                    for x in d.fields
                ],
            }
            for d in f.events
        ],
        "sessions": [
            {
                "session": s.diff.session, "agree": s.diff.agrees,
                "not_sent": list(s.diff.not_sent), "not_yet_sent": list(s.diff.pending),
                "unexpected": list(s.diff.unexpected), "unchecked": s.diff.unchecked,
                "notes": list(s.notes),
            }
            for s in f.sessions
        ],
    }


def run(config: BridgeConfig, journal: Path, date: dt.date, fmt: str,
        fetch: Fetch = fetch_report) -> int:
    """The command's body once the config is loaded: findings printed, the exit code."""

    def say(line: str) -> None:
        print(f"reconcile: {line}", file=sys.stderr, flush=True)

    try:
        findings = reconcile(config, journal, date, say, fetch)
    except (ReconcileError, JournalError) as exc:
        print(f"fixbridge: reconcile failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if fmt == "json":
        print(json.dumps(as_json(findings), indent=2))
    else:
        render_table(findings, sys.stdout)
    return EXIT_AGREE if findings.agrees else EXIT_DIFFERENCES
