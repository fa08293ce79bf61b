"""The journal's write methods, one set for every backend.

Each write builds its backend's job (a function of the backend's write connection, from the
backend's :class:`WriteJobs`) and hands it to the backend's committer: the ``*_async`` ones
and ``submit_sent`` to the next group-commit round, the others (start-up, tools, tests) to a
transaction of their own. What a job does, and in which statements, is the backend's; what a
write means is ``journal/store.py``'s.

Never runs a statement itself; never decides what to store.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Generic, Protocol, TypeVar

from fixbridge.journal.commit import Submitted
from fixbridge.journal.message_log import LogEntry
from fixbridge.journal.records import OutboundMessage
from fixbridge.journal.retention import Pruned
from fixbridge.journal.store import AppendResult, NewEvent

C = TypeVar("C")  # the backend's write connection
C_co = TypeVar("C_co", covariant=True)
C_contra = TypeVar("C_contra", contravariant=True)
T = TypeVar("T")


class Committer(Protocol[C_co]):
    async def run(self, work: Callable[[C_co], T]) -> T: ...

    def submit(self, work: Callable[[C_co], T]) -> Submitted[T]: ...

    def run_sync(self, work: Callable[[C_co], T]) -> T: ...


class WriteJobs(Protocol[C_contra]):
    """A backend's jobs, one per kind of write (arguments as the methods below take them)."""

    def append(
        self, stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int, /
    ) -> Callable[[C_contra], AppendResult]: ...

    def save_sequence_numbers(
        self, session_id: str, next_sender_seq: int, next_target_seq: int, at_ns: int,
        reset: bool, log: Sequence[LogEntry], /,
    ) -> Callable[[C_contra], None]: ...  # fmt: skip

    def record_sent(
        self, session_id: str, messages: Sequence[OutboundMessage], next_sender_seq: int,
        cursor_offset: int | None, at_ns: int, after_offset: int | None,
        log: Sequence[LogEntry], /,
    ) -> Callable[[C_contra], None]: ...  # fmt: skip

    def rewind(
        self, session_id: str, next_sender_seq: int, cursor_offset: int, forget_from: int,
        at_ns: int, /,
    ) -> Callable[[C_contra], None]: ...  # fmt: skip

    def mark_possibly_sent(
        self, session_id: str, before_ns: int, /
    ) -> Callable[[C_contra], None]: ...

    def replay_from(
        self, session_id: str, cursor_offset: int, possibly_sent_before_ns: int, /
    ) -> Callable[[C_contra], None]: ...

    def log_messages(self, entries: Sequence[LogEntry], /) -> Callable[[C_contra], None]: ...

    def prune_events(
        self, after_offset: int, up_to_offset: int, received_before_ns: int, limit: int,
        streams: Collection[str], settled: dict[str, bool], /,
    ) -> Callable[[C_contra], Pruned]: ...  # fmt: skip

    def prune_log(self, logged_before_ns: int, limit: int, /) -> Callable[[C_contra], Pruned]: ...

    def prune_sent(
        self, session_id: str, sent_before: str, limit: int, /
    ) -> Callable[[C_contra], Pruned]: ...


class JournalWrites(Generic[C]):
    """The write half of ``journal/store.py``'s ``Journal``, for a backend that sets
    ``_commits`` (its committer) and ``_jobs`` (its jobs)."""

    _commits: Committer[C]
    _jobs: WriteJobs[C]

    # --- upstream events ---------------------------------------------------------------------

    def append(
        self, stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
    ) -> AppendResult:
        return self._commits.run_sync(
            self._jobs.append(stream, events, resume_token, received_at_ns)
        )

    async def append_async(
        self, stream: str, events: Sequence[NewEvent], resume_token: bytes, received_at_ns: int
    ) -> AppendResult:
        return await self._commits.run(
            self._jobs.append(stream, events, resume_token, received_at_ns)
        )

    # --- FIX sessions ------------------------------------------------------------------------

    def save_sequence_numbers(
        self,
        session_id: str,
        next_sender_seq: int,
        next_target_seq: int,
        *,
        at_ns: int,
        reset: bool = False,
        log: Sequence[LogEntry] = (),
    ) -> None:
        self._commits.run_sync(
            self._jobs.save_sequence_numbers(
                session_id, next_sender_seq, next_target_seq, at_ns, reset, log
            )
        )

    async def save_sequence_numbers_async(
        self,
        session_id: str,
        next_sender_seq: int,
        next_target_seq: int,
        *,
        at_ns: int,
        reset: bool = False,
        log: Sequence[LogEntry] = (),
    ) -> None:
        await self._commits.run(
            self._jobs.save_sequence_numbers(
                session_id, next_sender_seq, next_target_seq, at_ns, reset, log
            )
        )

    def record_sent(
        self,
        session_id: str,
        messages: Sequence[OutboundMessage],
        next_sender_seq: int,
        cursor_offset: int | None,
        *,
        at_ns: int,
        after_offset: int | None = None,
        log: Sequence[LogEntry] = (),
    ) -> None:
        self._commits.run_sync(
            self._jobs.record_sent(
                session_id, messages, next_sender_seq, cursor_offset, at_ns, after_offset, log
            )
        )

    def submit_sent(
        self,
        session_id: str,
        messages: Sequence[OutboundMessage],
        next_sender_seq: int,
        cursor_offset: int | None,
        *,
        at_ns: int,
        after_offset: int | None = None,
        log: Sequence[LogEntry] = (),
    ) -> Submitted[None]:
        return self._commits.submit(
            self._jobs.record_sent(
                session_id, messages, next_sender_seq, cursor_offset, at_ns, after_offset, log
            )
        )

    async def rewind_session_async(
        self,
        session_id: str,
        next_sender_seq: int,
        cursor_offset: int,
        *,
        forget_from: int,
        at_ns: int,
    ) -> None:
        await self._commits.run(
            self._jobs.rewind(session_id, next_sender_seq, cursor_offset, forget_from, at_ns)
        )

    async def mark_possibly_sent_async(self, session_id: str, before_ns: int) -> None:
        await self._commits.run(self._jobs.mark_possibly_sent(session_id, before_ns))

    async def replay_from_async(
        self, session_id: str, cursor_offset: int, possibly_sent_before_ns: int
    ) -> None:
        """An operator's replay: the cursor back to ``cursor_offset`` (never forward) and the
        PossResend horizon up to ``possibly_sent_before_ns`` (never back), in one write."""
        await self._commits.run(
            self._jobs.replay_from(session_id, cursor_offset, possibly_sent_before_ns)
        )

    def log_messages(self, entries: Sequence[LogEntry]) -> None:
        self._commits.run_sync(self._jobs.log_messages(entries))

    async def log_messages_async(self, entries: Sequence[LogEntry]) -> None:
        await self._commits.run(self._jobs.log_messages(entries))

    # --- retention ----------------------------------------------------------------------------

    async def prune_events_async(
        self,
        after_offset: int,
        up_to_offset: int,
        received_before_ns: int,
        limit: int,
        streams: Collection[str],
        settled: dict[str, bool],
    ) -> Pruned:
        return await self._commits.run(
            self._jobs.prune_events(
                after_offset, up_to_offset, received_before_ns, limit, streams, settled
            )
        )

    async def prune_log_async(self, logged_before_ns: int, limit: int) -> Pruned:
        return await self._commits.run(self._jobs.prune_log(logged_before_ns, limit))

    async def prune_sent_async(self, session_id: str, sent_before: str, limit: int) -> Pruned:
        return await self._commits.run(self._jobs.prune_sent(session_id, sent_before, limit))
