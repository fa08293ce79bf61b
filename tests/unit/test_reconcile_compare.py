"""The reconciliation's comparison, as pure functions over hand-made event sets."""

from __future__ import annotations

from decimal import Decimal

from fixbridge.reconcile.compare import (
    DIFFERENT,
    EXTRA,
    MISSING,
    Event,
    EventDiff,
    Expected,
    FieldDiff,
    SentWindow,
    compare_events,
    compare_session,
    date_notes,
)


def _execution(key: str, **fields: object) -> Event:
    base: dict[str, object] = {"side": "1", "last_qty": Decimal("10"), "last_px": Decimal("0.55")}
    base.update(fields)
    return Event("executions", key, base)  # type: ignore[arg-type]


def test_equal_sets_have_no_differences() -> None:
    events = [_execution("E1"), _execution("E2"), Event("trades", "T1:NEW", {"state": "NEW"})]
    assert compare_events(events, list(reversed(events))) == []


def test_missing_extra_and_different_are_named_with_both_values() -> None:
    exchange = [_execution("E1"), _execution("E2", last_px=Decimal("0.56")), _execution("E3")]
    journal = [_execution("E2"), _execution("E3"), _execution("E4")]
    assert compare_events(exchange, journal) == [
        EventDiff(MISSING, "executions", "E1"),
        EventDiff(DIFFERENT, "executions", "E2",
                  (FieldDiff("last_px", Decimal("0.56"), Decimal("0.55")),)),
        EventDiff(EXTRA, "executions", "E4"),
    ]


def test_decimals_compare_by_exact_value_not_by_text() -> None:
    assert compare_events([_execution("E1", last_qty=Decimal("10.0"))], [_execution("E1")]) == []
    one_tick = compare_events([_execution("E1", last_qty=Decimal("10.000000001"))],
                              [_execution("E1")])
    assert [d.fields for d in one_tick] == [
        (FieldDiff("last_qty", Decimal("10.000000001"), Decimal("10")),)]


def test_a_field_on_one_side_only_is_a_difference_and_unreadable_events_count_by_presence() -> None:
    assert compare_events([_execution("E1", trade_id="T9")], [_execution("E1")])[0].fields == (
        FieldDiff("trade_id", "T9", None),)
    unreadable = Event("executions", "E1", None)
    assert compare_events([unreadable], [_execution("E1")]) == []
    assert compare_events([], [unreadable]) == [EventDiff(EXTRA, "executions", "E1")]


def test_the_same_key_on_two_streams_is_two_events() -> None:
    assert compare_events([Event("trades", "X", {})], [Event("executions", "X", {})]) == [
        EventDiff(EXTRA, "executions", "X"), EventDiff(MISSING, "trades", "X")]


WINDOW = SentWindow(origin=10, covered_from=20, cursor=100)


def test_a_session_sent_everything_in_scope_agrees() -> None:
    expected = [Expected("8:E1", 30), Expected("AE:T1-NEW", 40)]
    diff = compare_session("s", expected, ["8:E1", "AE:T1-NEW"], WINDOW)
    assert diff.agrees and diff.unchecked == 0


def test_a_session_diff_sorts_events_by_where_the_store_can_vouch_for_them() -> None:
    expected = [
        Expected("8:BEFORE", 5),  # before the session existed: never expected
        Expected("8:OLD", 15),  # the store no longer covers it: unchecked
        Expected("8:LOST", 50),  # passed and not sent
        Expected("8:SENT", 60),
        Expected("8:LATER", 150),  # the session has not got there
    ]
    diff = compare_session("s", expected, ["8:SENT", "8:STRAY"], WINDOW)
    assert diff.not_sent == ("8:LOST",)
    assert diff.pending == ("8:LATER",)
    assert diff.unexpected == ("8:STRAY",)
    assert diff.unchecked == 1
    assert not diff.agrees


def test_an_unchecked_message_still_held_by_the_store_is_not_counted_unchecked() -> None:
    diff = compare_session("s", [Expected("8:OLD", 15)], ["8:OLD"], WINDOW)
    assert diff.agrees and diff.unchecked == 0


def test_dates_are_warned_about_by_what_may_be_gone() -> None:
    assert date_notes("2026-12-01", 3, None) == []
    assert date_notes("2026-12-01", 3, 30) == []
    (still_open,) = date_notes("2026-12-04", 0, None)
    assert "still open" in still_open
    (old_executions,) = date_notes("2026-11-01", 8, None)  # spec §5: executions kept 7 days
    assert "8 days old" in old_executions
    assert date_notes("2026-11-27", 7, None) == []
    (pruned,) = date_notes("2026-11-29", 5, 5)
    assert "journal.retain_days = 5" in pruned
