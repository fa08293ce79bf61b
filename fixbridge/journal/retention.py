"""Retention: what the journal may forget once it is older than ``[journal] retain_days``, and
the background task that has it forgotten a little at a time.

What may go (the rules; the SQL that applies them is the journal's ``prune_*`` methods):
- An event received before the cut-off, at or behind the cursor of every configured session
  (a session's backlog is never removed, however old), other than the newest event (it
  marks the journal's head), unless it is the newest of its kind for
  its symbol and account (the last position of an account in a symbol, a symbol's last
  instrument state: a settlement or a late joiner still reads them), and never a settlement
  price (a corrected final is reported against the earlier one).
- A sent application message whose SendingTime is before the cut-off, with the record of its
  batch: a ResendRequest for its number is then answered with a gap fill, as for any number
  older than the resend window. Batches go whole, so no batch is ever half stored.
- The order memory (an order's totals and fills, for busts) is kept: a bust may come late.

Why a cut-off is safe: the exchange's streams never replay further back than
``upstream.trades_lookback_s`` plus ``resume_margin_s``, and the configuration requires
``retain_days`` to exceed that by a day, so an event replayed after its removal (which would
be journaled and sent again) cannot happen.

Must never: remove anything a session's cursor has not passed, run a long transaction on the
event loop (work goes in small jobs through the group commit), or stop the bridge when a round
fails (logged, tried again at the next interval).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from fixbridge.normalize.timestamps import Precision, format_utc_timestamp

log = logging.getLogger("fixbridge.journal")

DAY_NS = 86_400 * 1_000_000_000
EVENTS_PER_JOB = 500  # events looked at by one job (one savepoint of a group-commit round)
MESSAGES_PER_JOB = 2_000  # sent messages removed by one job
FIRST_RUN_DELAY_S = 60.0  # after start-up, once the streams have caught up
INTERVAL_S = 3_600.0


@dataclass(frozen=True, slots=True)
class Pruned:
    """One job's work: ``removed`` rows; ``last`` where the next job goes on (None = done)."""

    removed: int
    last: int | None


class Forgetful(Protocol):
    """What retention needs of the journal."""

    def cursors(self, session_ids: Collection[str]) -> dict[str, int]:
        """The cursor offset of each of these sessions the journal knows."""
        ...

    async def prune_events_async(
        self, after_offset: int, up_to_offset: int, received_before_ns: int, limit: int
    ) -> Pruned: ...

    async def prune_sent_async(self, session_id: str, sent_before: str, limit: int) -> Pruned: ...


@dataclass(frozen=True, slots=True)
class RetentionRun:
    events: int
    messages: int
    kept_for: str | None  # the session whose cursor held events back, if one did


def cut_off_ns(now_ns: int, retain_days: int) -> int:
    return now_ns - retain_days * DAY_NS


def sent_before_text(cut_off: int) -> str:
    """The cut-off as a SendingTime(52) prefix: every stored SendingTime (any precision) that
    sorts before it was stamped before the cut-off (whole seconds, the coarsest precision)."""
    return format_utc_timestamp(cut_off - cut_off % 1_000_000_000, Precision.SECONDS)


async def run_retention(
    journal: Forgetful, sessions: Collection[str], head_offset: int, now_ns: int, retain_days: int
) -> RetentionRun:
    """One pass: every event and sent message that may go (module doc), job by job."""
    cut_off = cut_off_ns(now_ns, retain_days)
    cursors = journal.cursors(sessions)
    up_to, kept_for = head_offset - 1, None  # the newest event stays: it marks the head
    for session_id, cursor in sorted(cursors.items()):
        if cursor < up_to:
            up_to, kept_for = cursor, session_id
    events = 0
    after: int | None = 0
    while after is not None:
        pruned = await journal.prune_events_async(after, up_to, cut_off, EVENTS_PER_JOB)
        events += pruned.removed
        after = pruned.last
    messages = 0
    sent_before = sent_before_text(cut_off)
    for session_id in sorted(cursors):
        more: int | None = 0
        while more is not None:
            pruned = await journal.prune_sent_async(session_id, sent_before, MESSAGES_PER_JOB)
            messages += pruned.removed
            more = pruned.last
    return RetentionRun(events, messages, kept_for)


async def retain(
    journal: Forgetful,
    sessions: Callable[[], Collection[str]],
    head_offset: Callable[[], int],
    clock: Callable[[], int],
    retain_days: int,
    removed: Callable[[str, int], None],
) -> None:
    """Run :func:`run_retention` every :data:`INTERVAL_S` until cancelled; ``removed(what,
    count)`` is told what went ("events", "messages")."""
    await asyncio.sleep(FIRST_RUN_DELAY_S)
    while True:
        try:
            run = await run_retention(journal, sessions(), head_offset(), clock(), retain_days)
        except Exception:
            log.exception("journal retention failed; it is tried again in %.0f s", INTERVAL_S)
        else:
            removed("events", run.events)
            removed("messages", run.messages)
            if run.events or run.messages:
                log.info(
                    "journal retention (%d days): %d events and %d sent messages removed",
                    retain_days, run.events, run.messages,
                )  # fmt: skip
            if run.kept_for is not None:
                log.info(
                    "journal retention: events older than %d days are kept for session %s,"
                    " whose cursor has not passed them",
                    retain_days, run.kept_for,
                )  # fmt: skip
        await asyncio.sleep(INTERVAL_S)
