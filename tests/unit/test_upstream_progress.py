"""Catch-up progress: what a replaying stream says, and when it says it is caught up, on an
injected clock (the module reads none)."""

from __future__ import annotations

from fixbridge.upstream.progress import CatchUp

S = 1_000_000_000
T0 = 1_800_000_000 * S  # "now" at the (re)connection


def test_a_replay_logs_progress_every_interval_then_one_caught_up_line() -> None:
    tracker = CatchUp("executions")
    tracker.connected(T0)
    lines: list[str] = []
    # 20,000 events an hour old, 100 per response, 400 responses a second for 5 s... then live.
    now, newest = T0, T0 - 3600 * S
    for _ in range(200):
        now += S // 40
        newest += S // 10
        lines += tracker.response(now, 100, 0, newest)
    assert tracker.catching_up
    assert lines == [
        "executions: catching up: 20,000 events stored (4,000/s), 0 duplicates skipped;"
        " newest event 59.8 min behind"  # 3,585 s
    ]
    lines = tracker.response(now + S, 50, 10, now + S - 2 * S)  # 2 s old: within 5 s
    assert lines == [
        "executions: caught up: 20,050 events stored in 6.0 s (3,342/s), 10 duplicates"
        " skipped; newest event 2.0 s old"
    ]
    assert not tracker.catching_up


def test_an_empty_response_means_nothing_is_waiting() -> None:
    tracker = CatchUp("trades")
    tracker.connected(T0)
    assert tracker.response(T0 + S, 0, 0, None) == [
        "trades: caught up: 0 events stored in 1.0 s (0/s), 0 duplicates skipped"
    ]


def test_live_duplicates_are_collapsed_into_one_line_per_interval() -> None:
    tracker = CatchUp("executions")
    tracker.connected(T0)
    tracker.response(T0, 1, 0, T0)  # caught up at once
    said = []
    for n in range(1, 26):  # 25 responses of 100 duplicates in 2.5 s
        said += tracker.response(T0 + n * S // 10, 0, 100, T0)
    assert said == []  # within the interval of the caught-up line
    said = tracker.response(T0 + 6 * S, 0, 100, T0)
    assert said == [
        "executions: 2,600 duplicates skipped (already journaled: replay overlap or redelivery)"
    ]
    assert tracker.response(T0 + 7 * S, 0, 0, T0 + 7 * S) == []


def test_lag_is_unknown_before_any_event_and_a_reconnection_starts_over() -> None:
    tracker = CatchUp("positions")
    assert not tracker.catching_up and tracker.lag_s(T0) is None
    tracker.connected(T0)
    assert tracker.catching_up
    tracker.response(T0 + S, 10, 0, T0 - 100 * S)
    assert tracker.lag_s(T0 + S) == 101.0
    tracker.connected(T0 + 2 * S)
    assert tracker.catching_up and tracker.stored == 0
