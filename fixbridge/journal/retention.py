"""Retention: what the journal may forget once it is older than ``[journal] retain_days``, and
the background task that has it forgotten a little at a time.

What may go (the rules; the SQL that applies them is the journal's ``prune_*`` methods):
- An event received before the cut-off, at or behind the cursor of every configured session
  (a session's backlog is never removed, however old), other than the newest event (it
  marks the journal's head), unless a later rendering or deduplication still reads it:
  - the newest event of its symbol, stream and account (each account's last position in a
    symbol, a symbol's last instrument state: a settlement or a late joiner reads them);
  - any position in a symbol whose final resolution was not journaled before the cut-off (a
    final, and a correction of it, pay each account's position as of the set time);
  - the newest version of a trade (a later state is reported as an amendment of it);
  - every settlement price (a corrected final is reported against the earlier one);
  - any event of a stream the exchange may still replay from before the cut-off: a stream
    whose resume point (its last durable event) is older than the cut-off plus its replay
    reach (``upstream.resume_margin_s``, plus ``trades_lookback_s`` for trades) and a day is
    left alone, since an event replayed after its removal would pass deduplication and be
    sent again (a stream down for days, a refused resume token).
- A sent application message whose SendingTime is before the cut-off, with the record of its
  batch, in every session the journal knows: a ResendRequest for its number is then answered
  with a gap fill, as for any number older than the resend window. Batches go whole.
- A message-log row logged before the cut-off.
- The order memory (an order's totals and fills, for busts) is kept: a bust may come late.

A session the journal knows but the configuration no longer lists holds nothing back; a pass
that removes events such a session was never sent names it (added again, it would skip them).

Must never: remove anything a configured session's cursor has not passed, run a long
statement on the event loop (work goes in small jobs through the group commit; the scan for
where the cut-off falls in the journal runs on a thread), or stop the bridge when a pass fails
(logged, tried again at the next interval).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fixbridge.normalize.timestamps import Precision, format_utc_timestamp

log = logging.getLogger("fixbridge.journal")

DAY_NS = 86_400 * 1_000_000_000
PRUNED_STREAMS = ("executions", "trades", "positions", "instruments")
EVENTS_PER_JOB = 500  # events looked at by one job (one savepoint of a group-commit round)
MESSAGES_PER_JOB = 2_000  # sent messages or log rows removed by one job
FIRST_RUN_DELAY_S = 60.0  # after start-up, once the streams have caught up
INTERVAL_S = 3_600.0


def removable(
    candidates: Sequence[tuple[int, str, str]],
    newest_indexed: Collection[int],
    positions: Iterable[tuple[int, str]],
    settled: dict[str, bool],
    settled_before: Callable[[str], bool],
    later_version: Callable[[str, int], bool],
) -> list[int]:
    """Which of ``candidates`` (offset, stream, upstream id: events past every cursor and
    received before the cut-off) may go, by the rules above: not ``newest_indexed`` (the
    newest of its symbol, stream and account), not one of ``positions`` (offset, symbol) in a
    symbol not ``settled_before`` the cut-off (remembered in ``settled`` across a pass), not
    a trade version with no ``later_version``. Pure; the backend asks the questions."""
    kept = set(newest_indexed)
    for offset, symbol in positions:
        if symbol not in settled:
            settled[symbol] = settled_before(symbol)
        if not settled[symbol]:
            kept.add(offset)
    for offset, stream, upstream_id in candidates:
        if stream == "trades" and not later_version(upstream_id, offset):
            kept.add(offset)  # the trade's newest version: later ones amend it
    return [offset for offset, _, _ in candidates if offset not in kept]


@dataclass(frozen=True, slots=True)
class Pruned:
    """One job's work: ``removed`` rows; ``last`` where the next job goes on (None = done)."""

    removed: int
    last: int | None


class Forgetful(Protocol):
    """What retention needs of the journal."""

    def cursors(self, session_ids: Collection[str] | None = None) -> dict[str, int]:
        """The cursor offset of each of these sessions the journal knows (None: of all)."""
        ...

    def resume_anchor_ns(self, stream: str) -> int | None: ...

    def offset_received_before(self, at_ns: int) -> int: ...

    async def prune_events_async(
        self,
        after_offset: int,
        up_to_offset: int,
        received_before_ns: int,
        limit: int,
        streams: Collection[str],
        settled: dict[str, bool],
    ) -> Pruned: ...

    async def prune_sent_async(self, session_id: str, sent_before: str, limit: int) -> Pruned: ...

    async def prune_log_async(self, logged_before_ns: int, limit: int) -> Pruned: ...


@dataclass(frozen=True, slots=True)
class RetentionRun:
    events: int
    messages: int
    log_rows: int
    kept_for: str | None  # the configured session whose cursor held events back, if one did
    left_behind: tuple[str, ...] = ()  # sessions not configured that were not sent all removed
    streams_held: tuple[str, ...] = field(default=())  # streams the exchange may still replay


def cut_off_ns(now_ns: int, retain_days: int) -> int:
    return now_ns - retain_days * DAY_NS


def sent_before_text(cut_off: int) -> str:
    """The cut-off as a SendingTime(52) prefix: every stored SendingTime (any precision) that
    sorts before it was stamped before the cut-off (whole seconds, the coarsest precision)."""
    return format_utc_timestamp(cut_off - cut_off % 1_000_000_000, Precision.SECONDS)


def replayable_streams(
    journal: Forgetful, cut_off: int, replay_reach_ns: Mapping[str, int]
) -> tuple[list[str], list[str]]:
    """(streams whose events may go, streams the exchange may still replay from before the
    cut-off): a stream's replay starts at most its reach before its resume point."""
    free, held = [], []
    for stream in PRUNED_STREAMS:
        anchor = journal.resume_anchor_ns(stream)
        reach = replay_reach_ns.get(stream, 0)
        if anchor is not None and anchor - reach - DAY_NS < cut_off:
            held.append(stream)
        else:
            free.append(stream)
    return free, held


async def run_retention(
    journal: Forgetful,
    sessions: Collection[str],
    head_offset: int,
    now_ns: int,
    retain_days: int,
    replay_reach_ns: Mapping[str, int],
) -> RetentionRun:
    """One pass: every event, sent message and log row that may go (module doc), job by job."""
    cut_off = cut_off_ns(now_ns, retain_days)
    cursors = journal.cursors(sessions)
    up_to, kept_for = head_offset - 1, None  # the newest event stays: it marks the head
    for session_id, cursor in sorted(cursors.items()):
        if cursor < up_to:
            up_to, kept_for = cursor, session_id
    received = await asyncio.to_thread(journal.offset_received_before, cut_off)
    up_to = min(up_to, received)
    every = journal.cursors()
    left_behind = tuple(
        name for name, cursor in sorted(every.items()) if name not in cursors and cursor < up_to
    )
    free, held = replayable_streams(journal, cut_off, replay_reach_ns)
    events = 0
    after: int | None = 0
    settled: dict[str, bool] = {}
    while after is not None and free:
        pruned = await journal.prune_events_async(
            after, up_to, cut_off, EVENTS_PER_JOB, free, settled
        )
        events += pruned.removed
        after = pruned.last
    messages = 0
    sent_before = sent_before_text(cut_off)
    for session_id in sorted(every):
        more: int | None = 0
        while more is not None:
            pruned = await journal.prune_sent_async(session_id, sent_before, MESSAGES_PER_JOB)
            messages += pruned.removed
            more = pruned.last
    log_rows = 0
    again: int | None = 0
    while again is not None:
        pruned = await journal.prune_log_async(cut_off, MESSAGES_PER_JOB)
        log_rows += pruned.removed
        again = pruned.last
    return RetentionRun(
        events, messages, log_rows, kept_for,
        left_behind if events else (), tuple(held),
    )  # fmt: skip


async def retain(
    journal: Forgetful,
    sessions: Callable[[], Collection[str]],
    head_offset: Callable[[], int],
    clock: Callable[[], int],
    retain_days: int,
    replay_reach_ns: Mapping[str, int],
    removed: Callable[[str, int], None],
) -> None:
    """Run :func:`run_retention` every :data:`INTERVAL_S` until cancelled; ``removed(what,
    count)`` is told what went ("events", "messages", "log")."""
    await asyncio.sleep(FIRST_RUN_DELAY_S)
    while True:
        try:
            run = await run_retention(
                journal, sessions(), head_offset(), clock(), retain_days, replay_reach_ns
            )
        except Exception:
            log.exception("journal retention failed; it is tried again in %.0f s", INTERVAL_S)
        else:
            _report(run, retain_days, removed)
        await asyncio.sleep(INTERVAL_S)


def _report(run: RetentionRun, retain_days: int, removed: Callable[[str, int], None]) -> None:
    removed("events", run.events)
    removed("messages", run.messages)
    removed("log", run.log_rows)
    if run.events or run.messages or run.log_rows:
        log.info(
            "journal retention (%d days): %d events, %d sent messages and %d message-log rows"
            " removed", retain_days, run.events, run.messages, run.log_rows,
        )  # fmt: skip
    if run.kept_for is not None:
        log.info(
            "journal retention: events older than %d days are kept for session %s, whose"
            " cursor has not passed them", retain_days, run.kept_for,
        )  # fmt: skip
    for stream in run.streams_held:
        log.warning(
            "journal retention: %s events are kept: the stream's resume point is old enough"
            " for the exchange to replay events older than %d days (down, or catching up)",
            stream, retain_days,
        )  # fmt: skip
    for name in run.left_behind:
        log.warning(
            "journal retention: session %s is not configured and had not been sent events"
            " that were removed; configured again, it would not receive them",
            name,
        )
