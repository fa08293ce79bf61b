"""Live events reach the renderers already decoded: the journal says at which offset each new
event landed, and what the subscriber hands over for that offset is exactly what decoding the
stored payload gives (a wrong offset, or a duplicate taken for new, would render another
event's report)."""

from __future__ import annotations

from pathlib import Path

from fixbridge.journal.sqlite import SqliteJournal
from fixbridge.normalize.execution import ExecutionEvent
from fixbridge.simulator.market import MarketModel
from fixbridge.upstream.streams import executions_to_events

T0 = 1_795_000_000_000_000_000


def test_append_names_each_new_events_offset_and_its_decoded_form_matches_the_payload(
    tmp_path: Path,
) -> None:
    journal = SqliteJournal(tmp_path / "j.db", synchronous="normal")
    try:
        model, made = MarketModel(7), []
        now = T0
        while len(made) < 60:
            now += 1_000_000
            made += model.step(now).executions
        first = executions_to_events(made[:40], journal, T0)
        journal.append("executions", first, b"t1", T0)
        # A replay overlap: 20 already journaled, 20 new, in one append.
        second = executions_to_events(made[20:60], journal, T0)
        result = journal.append("executions", second, b"t2", T0)
        assert result.offsets[:20] == (0,) * 20
        assert result.stored == 20
        stored = {e.offset: e for e in journal.read_events(0, 100)}
        for event, offset in zip(second[20:], result.offsets[20:], strict=True):
            assert offset and stored[offset].upstream_id == event.upstream_id
            assert isinstance(event.decoded, ExecutionEvent)
            assert ExecutionEvent.from_payload(stored[offset].payload) == event.decoded
    finally:
        journal.close()
