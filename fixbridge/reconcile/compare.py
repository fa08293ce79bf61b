"""The comparison of a reconciliation: pure functions over event sets, no I/O.

An event is compared by its journal identity (``upstream_id``: ExecID for executions, trade id
and state for trades) and by the normalized fields that matter, as exact values (Decimals,
never floats). A session is compared by message identities (``8:<ExecID>``,
``AE:<TradeReportID>``). This module must never read a clock, a file or the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

FieldValue = str | Decimal | bool | None

MISSING = "missing"  # in the exchange's report, not in the journal
EXTRA = "extra"  # in the journal, not in the exchange's report
DIFFERENT = "different"  # in both, some compared field differs


@dataclass(frozen=True, slots=True)
class Event:
    """One execution or trade state as compared: ``fields`` None when it cannot be
    normalized (then only its presence is compared)."""

    stream: str
    key: str
    fields: Mapping[str, FieldValue] | None


@dataclass(frozen=True, slots=True)
class FieldDiff:
    field: str
    exchange: FieldValue
    journal: FieldValue


@dataclass(frozen=True, slots=True)
class EventDiff:
    kind: str  # MISSING, EXTRA or DIFFERENT
    stream: str
    key: str
    fields: tuple[FieldDiff, ...] = ()


def _keyed(events: Iterable[Event]) -> dict[tuple[str, str], Event]:
    return {(e.stream, e.key): e for e in events}


def field_diffs(
    exchange: Mapping[str, FieldValue], journal: Mapping[str, FieldValue]
) -> tuple[FieldDiff, ...]:
    """Each field whose values differ (a field absent on one side counts as None)."""
    names = sorted(set(exchange) | set(journal))
    return tuple(
        FieldDiff(name, exchange.get(name), journal.get(name))
        for name in names
        if exchange.get(name) != journal.get(name)
    )


def compare_events(exchange: Iterable[Event], journal: Iterable[Event]) -> list[EventDiff]:
    """Missing, extra and different events, ordered by stream then key."""
    theirs, ours = _keyed(exchange), _keyed(journal)
    diffs: list[EventDiff] = []
    for ident in sorted(set(theirs) | set(ours)):
        stream, key = ident
        if ident not in ours:
            diffs.append(EventDiff(MISSING, stream, key))
        elif ident not in theirs:
            diffs.append(EventDiff(EXTRA, stream, key))
        else:
            a, b = theirs[ident].fields, ours[ident].fields
            if a is not None and b is not None:
                changed = field_diffs(a, b)
                if changed:
                    diffs.append(EventDiff(DIFFERENT, stream, key, changed))
    return diffs


@dataclass(frozen=True, slots=True)
class Expected:
    """A message a session should have been sent, for the journal event at ``offset``."""

    message: str  # "8:<ExecID>" or "AE:<TradeReportID>"
    offset: int


@dataclass(frozen=True, slots=True)
class SentWindow:
    """What a session's store can vouch for: the journal offsets in (``covered_from``,
    ``cursor``] were sent (or passed over) and their messages are still held; events at or
    before ``origin`` came before the session existed."""

    origin: int
    covered_from: int
    cursor: int


@dataclass(frozen=True, slots=True)
class SessionDiff:
    session: str
    not_sent: tuple[str, ...]  # in scope, passed by the session, not in its store
    pending: tuple[str, ...]  # in scope, the session has not got that far yet
    unexpected: tuple[str, ...]  # sent for the date, not an in-scope journal event
    unchecked: int  # in scope, but the store no longer holds that part (reset, retention)

    @property
    def agrees(self) -> bool:
        return not (self.not_sent or self.pending or self.unexpected)


def compare_session(
    session: str, expected: Iterable[Expected], sent: Iterable[str], window: SentWindow
) -> SessionDiff:
    """What ``session`` should have been sent for the date against what its store holds."""
    sent_set = set(sent)
    not_sent: set[str] = set()
    pending: set[str] = set()
    unchecked: set[str] = set()
    wanted: set[str] = set()
    for item in expected:
        if item.offset <= window.origin:
            continue
        wanted.add(item.message)
        if item.offset <= window.covered_from:
            unchecked.add(item.message)
        elif item.offset > window.cursor:
            if item.message not in sent_set:
                pending.add(item.message)
        elif item.message not in sent_set:
            not_sent.add(item.message)
    return SessionDiff(
        session,
        tuple(sorted(not_sent)),
        tuple(sorted(pending)),
        tuple(sorted(sent_set - wanted)),
        len(unchecked - sent_set),
    )


EXECUTION_RETENTION_DAYS = 7  # spec §5: the Report API keeps executions for 7 days


def date_notes(date: str, age_days: int, retain_days: int | None) -> list[str]:
    """Warnings about what may be gone for a trade date ``age_days`` old (today: 0)."""
    notes: list[str] = []
    if age_days < 1:
        notes.append(f"{date} is still open: events made while reconciling may show as"
                     " missing or extra; run it again after the 17:00 New York roll")
    if age_days > EXECUTION_RETENTION_DAYS:
        notes.append(f"the exchange keeps executions {EXECUTION_RETENTION_DAYS} days (spec §5):"
                     f" {date} is {age_days} days old, its executions may show as extra")
    if retain_days is not None and age_days >= retain_days:
        notes.append(f"journal.retain_days = {retain_days}: events of {date} the sessions"
                     " have passed may have been removed and show as missing")
    return notes
