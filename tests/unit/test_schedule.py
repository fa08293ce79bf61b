"""Trading-session schedules: windows, boundaries, session instances, DST, config validation.

Instants in the tables are written with explicit UTC offsets, so expectations do not depend on
the code under test's own local-time conversion.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fixbridge.fix.schedule import (
    ALWAYS,
    FAR_FUTURE_NS,
    NS_PER_S,
    ScheduleConfig,
    SessionSchedule,
    Weekday,
    Window,
)

_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_SECOND = timedelta(seconds=1)


def at(text: str) -> int:
    """ns since the epoch of an ISO 8601 instant with an explicit offset."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return (moment - _EPOCH) // _SECOND * NS_PER_S


SCHEDULES: dict[str, dict[str, Any]] = {
    "ny-day": {"timezone": "America/New_York", "start_time": "08:00:00", "end_time": "17:00:00"},
    # start == end, daily: a 24 h session that rolls at 17:01 New York time.
    "ny-roll": {"timezone": "America/New_York", "start_time": "17:01:00", "end_time": "17:01:00"},
    "overnight": {"start_time": "22:00:00", "end_time": "06:00:00"},
    # The exchange's sample: one session a week, rolling at Sunday 16:45 Chicago time.
    "cme": {
        "timezone": "America/Chicago",
        "start_day": "Sunday",
        "start_time": "16:45:01",
        "end_day": "Sunday",
        "end_time": "16:45:00",
    },
    "fri-mon": {
        "timezone": "Europe/London",
        "start_day": "fri",
        "start_time": "22:00:00",
        "end_day": "mon",
        "end_time": "06:00:00",
    },
    "mon-fri": {
        "timezone": "Asia/Tokyo",
        "start_day": "Monday",
        "start_time": "08:00:00",
        "end_day": "Friday",
        "end_time": "17:00:00",
    },
    "sun-only": {
        "start_day": "SUN",
        "end_day": "sunday",
        "start_time": "09:00",
        "end_time": "17:00",
    },
    # QuickFIX/J's Weekdays: daily windows, only on the days listed (the day a window starts).
    "ny-weekdays": {
        "timezone": "America/New_York",
        "start_time": "08:00:00",
        "end_time": "17:00:00",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
    },
    # Overnight Sunday to Thursday evenings: Thursday's window ends Friday 16:00; none Friday.
    "ny-sun-thu": {
        "timezone": "America/New_York",
        "start_time": "17:00:00",
        "end_time": "16:00:00",
        "weekdays": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday"],
    },
    # 02:30 does not exist on 2026-03-08 in New York; 01:30 exists twice on 2026-11-01.
    "ny-0230": {"timezone": "America/New_York", "start_time": "02:30:00", "end_time": "02:30:00"},
    "ny-0130": {"timezone": "America/New_York", "start_time": "01:30:00", "end_time": "01:30:00"},
    # Entirely inside the spring-forward gap: empty (closed) that day.
    "ny-gap": {"timezone": "America/New_York", "start_time": "02:10:00", "end_time": "02:50:00"},
    # Alaska, 1867-10-19 15:30: the clock went back a whole day, to the 18th.
    "sitka": {"timezone": "America/Sitka", "start_time": "12:00:00", "end_time": "18:00:00"},
}


def schedule(name: str) -> SessionSchedule:
    return SessionSchedule(ScheduleConfig.model_validate(SCHEDULES[name]))


# (schedule, instant, start of the window containing it or None, next boundary). When open,
# the window is [start, next boundary); when closed, the next boundary is the next start.
CASES: list[tuple[str, str, str | None, str]] = [
    # Daily 08:00-17:00 New York, every day of the week, end exclusive.
    ("ny-day", "2026-06-10T07:59:59-04:00", None, "2026-06-10T08:00-04:00"),
    ("ny-day", "2026-06-10T08:00-04:00", "2026-06-10T08:00-04:00", "2026-06-10T17:00-04:00"),
    ("ny-day", "2026-06-10T17:00-04:00", None, "2026-06-11T08:00-04:00"),
    ("ny-day", "2026-06-13T12:00-04:00", "2026-06-13T08:00-04:00", "2026-06-13T17:00-04:00"),
    ("ny-day", "2026-01-15T08:00-05:00", "2026-01-15T08:00-05:00", "2026-01-15T17:00-05:00"),
    # 24 h roll at 17:01: always open, a new window at every roll...
    ("ny-roll", "2026-06-10T17:00:59-04:00", "2026-06-09T17:01-04:00", "2026-06-10T17:01-04:00"),
    ("ny-roll", "2026-06-10T17:01-04:00", "2026-06-10T17:01-04:00", "2026-06-11T17:01-04:00"),
    ("ny-roll", "2026-06-10T03:00-04:00", "2026-06-09T17:01-04:00", "2026-06-10T17:01-04:00"),
    # ... 23 h long across spring forward, 25 h across fall back.
    ("ny-roll", "2026-03-08T12:00-04:00", "2026-03-07T17:01-05:00", "2026-03-08T17:01-04:00"),
    ("ny-roll", "2026-11-01T12:00-05:00", "2026-10-31T17:01-04:00", "2026-11-01T17:01-05:00"),
    # Overnight 22:00-06:00 UTC.
    ("overnight", "2026-06-10T21:59:59Z", None, "2026-06-10T22:00Z"),
    ("overnight", "2026-06-10T23:00Z", "2026-06-10T22:00Z", "2026-06-11T06:00Z"),
    ("overnight", "2026-06-11T00:00Z", "2026-06-10T22:00Z", "2026-06-11T06:00Z"),
    ("overnight", "2026-06-11T05:59:59Z", "2026-06-10T22:00Z", "2026-06-11T06:00Z"),
    ("overnight", "2026-06-11T06:00Z", None, "2026-06-11T22:00Z"),
    # Weekly Sunday 16:45:01 to Sunday 16:45:00 Chicago: 7 days less the closed second.
    ("cme", "2026-06-10T10:00-05:00", "2026-06-07T16:45:01-05:00", "2026-06-14T16:45-05:00"),
    ("cme", "2026-06-13T23:59:59-05:00", "2026-06-07T16:45:01-05:00", "2026-06-14T16:45-05:00"),
    ("cme", "2026-06-14T16:45-05:00", None, "2026-06-14T16:45:01-05:00"),
    ("cme", "2026-06-14T16:45:01-05:00", "2026-06-14T16:45:01-05:00", "2026-06-21T16:45-05:00"),
    # ... the week with spring forward.
    ("cme", "2026-03-05T12:00-06:00", "2026-03-01T16:45:01-06:00", "2026-03-08T16:45-05:00"),
    # Weekly across the week end: Friday 22:00 to Monday 06:00 London.
    ("fri-mon", "2026-06-13T12:00+01:00", "2026-06-12T22:00+01:00", "2026-06-15T06:00+01:00"),
    ("fri-mon", "2026-06-14T23:59:59+01:00", "2026-06-12T22:00+01:00", "2026-06-15T06:00+01:00"),
    ("fri-mon", "2026-06-15T06:00+01:00", None, "2026-06-19T22:00+01:00"),
    ("fri-mon", "2026-06-17T12:00+01:00", None, "2026-06-19T22:00+01:00"),
    # Weekly Monday 08:00 to Friday 17:00 Tokyo: one window, open through the nights between.
    ("mon-fri", "2026-06-08T07:59:59+09:00", None, "2026-06-08T08:00+09:00"),
    ("mon-fri", "2026-06-10T02:00+09:00", "2026-06-08T08:00+09:00", "2026-06-12T17:00+09:00"),
    ("mon-fri", "2026-06-12T20:00+09:00", None, "2026-06-15T08:00+09:00"),
    ("mon-fri", "2026-06-13T12:00+09:00", None, "2026-06-15T08:00+09:00"),
    # Weekly, same day, end after start: Sundays 09:00-17:00 only.
    ("sun-only", "2026-06-14T10:00Z", "2026-06-14T09:00Z", "2026-06-14T17:00Z"),
    ("sun-only", "2026-06-15T10:00Z", None, "2026-06-21T09:00Z"),
    # Weekdays only: 2026-06-12 is a Friday; the weekend is closed until Monday 08:00.
    ("ny-weekdays", "2026-06-12T12:00-04:00", "2026-06-12T08:00-04:00", "2026-06-12T17:00-04:00"),
    ("ny-weekdays", "2026-06-12T17:00-04:00", None, "2026-06-15T08:00-04:00"),
    ("ny-weekdays", "2026-06-13T12:00-04:00", None, "2026-06-15T08:00-04:00"),
    ("ny-weekdays", "2026-06-15T08:00-04:00", "2026-06-15T08:00-04:00", "2026-06-15T17:00-04:00"),
    # Overnight windows belong to the day they start: Thursday's runs into Friday.
    ("ny-sun-thu", "2026-06-12T15:00-04:00", "2026-06-11T17:00-04:00", "2026-06-12T16:00-04:00"),
    ("ny-sun-thu", "2026-06-12T16:00-04:00", None, "2026-06-14T17:00-04:00"),
    ("ny-sun-thu", "2026-06-13T20:00-04:00", None, "2026-06-14T17:00-04:00"),
    ("ny-sun-thu", "2026-06-15T03:00-04:00", "2026-06-14T17:00-04:00", "2026-06-15T16:00-04:00"),
    # DST, missing time: 02:30 on 2026-03-08 means the end of the gap, 03:00 EDT.
    ("ny-0230", "2026-03-08T01:59:59-05:00", "2026-03-07T02:30-05:00", "2026-03-08T03:00-04:00"),
    ("ny-0230", "2026-03-08T03:00-04:00", "2026-03-08T03:00-04:00", "2026-03-09T02:30-04:00"),
    # DST, repeated time: 01:30 on 2026-11-01 means its first occurrence (EDT), not both.
    ("ny-0130", "2026-11-01T01:29:59-04:00", "2026-10-31T01:30-04:00", "2026-11-01T01:30-04:00"),
    ("ny-0130", "2026-11-01T01:30-04:00", "2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"),
    ("ny-0130", "2026-11-01T01:30-05:00", "2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00"),
    # DST, window inside the gap: empty on 2026-03-08; next_boundary skips it.
    ("ny-gap", "2026-03-07T02:20-05:00", "2026-03-07T02:10-05:00", "2026-03-07T02:50-05:00"),
    ("ny-gap", "2026-03-08T01:00-05:00", None, "2026-03-09T02:10-04:00"),
    ("ny-gap", "2026-03-08T03:00-04:00", None, "2026-03-09T02:10-04:00"),
    # Local date running backwards: the 19th's window (30 h long) holds the second 18th.
    (
        "sitka",
        "1867-10-18T16:00-09:01:13",
        "1867-10-19T12:00+14:58:47",
        "1867-10-19T18:00-09:01:13",
    ),
]


@pytest.mark.parametrize(("name", "instant", "start", "boundary"), CASES)
def test_schedule_table(name: str, instant: str, start: str | None, boundary: str) -> None:
    sched = schedule(name)
    now = at(instant)
    window = None if start is None else Window(at(start), at(boundary))
    assert sched.window_at(now) == window
    assert sched.is_open(now) is (start is not None)
    assert sched.next_boundary(now) == at(boundary)


def test_window_end_is_exclusive_to_the_nanosecond() -> None:
    sched = schedule("ny-day")
    end = at("2026-06-10T17:00:00-04:00")
    assert sched.is_open(end - 1)
    assert not sched.is_open(end)
    assert not sched.is_open(at("2026-06-10T08:00:00-04:00") - 1)


def test_exchange_sample_is_a_seven_day_window_less_one_second() -> None:
    sched = schedule("cme")
    window = sched.window_at(at("2026-06-10T10:00:00-05:00"))
    assert window is not None
    assert window.end_ns - window.start_ns == (7 * 86400 - 1) * NS_PER_S
    # The week with spring forward is an hour shorter.
    dst_week = sched.window_at(at("2026-03-05T12:00:00-06:00"))
    assert dst_week is not None
    assert dst_week.end_ns - dst_week.start_ns == (7 * 86400 - 1 - 3600) * NS_PER_S


def test_daily_24h_windows_touch_without_overlapping() -> None:
    sched = schedule("ny-roll")
    roll = at("2026-06-10T17:01:00-04:00")
    before, after = sched.window_at(roll - 1), sched.window_at(roll)
    assert before is not None and after is not None
    assert before.end_ns == roll == after.start_ns
    assert sched.next_boundary(roll - 1) == roll
    assert not sched.same_window(roll - 1, roll)


# (schedule, state last persisted, bridge (re)started, same session instance?)
RESTARTS: list[tuple[str, str, str, bool]] = [
    ("ny-roll", "2026-06-10T09:00:00-04:00", "2026-06-10T16:00:00-04:00", True),  # inside
    ("ny-roll", "2026-06-10T17:00:00-04:00", "2026-06-10T17:02:00-04:00", False),  # across roll
    ("ny-roll", "2026-06-10T18:00:00-04:00", "2026-06-11T18:00:00-04:00", False),  # a day later
    ("ny-day", "2026-06-10T09:00:00-04:00", "2026-06-11T09:00:00-04:00", False),
    ("ny-day", "2026-06-10T09:00:00-04:00", "2026-06-10T18:00:00-04:00", False),  # now closed
    ("ny-day", "2026-06-10T07:00:00-04:00", "2026-06-10T07:30:00-04:00", False),  # both closed
    ("cme", "2026-06-08T09:00:00-05:00", "2026-06-12T15:00:00-05:00", True),
    ("cme", "2026-06-12T15:00:00-05:00", "2026-06-14T17:00:00-05:00", False),
    ("cme", "2026-06-08T09:00:00-05:00", "2026-06-15T09:00:00-05:00", False),  # a week on
    ("fri-mon", "2026-06-12T23:00:00+01:00", "2026-06-15T05:00:00+01:00", True),
    ("ny-0130", "2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", True),  # no 2nd roll
    ("ny-0230", "2026-03-08T01:59:59-05:00", "2026-03-08T03:00:00-04:00", False),
]


@pytest.mark.parametrize(("name", "persisted", "now", "same"), RESTARTS)
def test_same_window_decides_reset_at_startup(
    name: str, persisted: str, now: str, same: bool
) -> None:
    sched = schedule(name)
    assert sched.same_window(at(persisted), at(now)) is same
    assert sched.same_window(at(now), at(persisted)) is same


def test_no_schedule_is_always_on() -> None:
    sched = SessionSchedule(None)
    for now in (0, at("2026-06-10T17:01:00-04:00"), -(10**18), 10**18):
        assert sched.window_at(now) == ALWAYS
        assert sched.is_open(now)
        assert sched.next_boundary(now) == FAR_FUTURE_NS
    assert sched.always_on
    assert sched.same_window(0, 10**18)
    assert not schedule("ny-day").always_on


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Sunday", Weekday.SUNDAY),
        ("sun", Weekday.SUNDAY),
        ("SUN", Weekday.SUNDAY),
        (" monday ", Weekday.MONDAY),
        ("Thu", Weekday.THURSDAY),
        ("SATURDAY", Weekday.SATURDAY),
    ],
)
def test_day_names(text: str, day: Weekday) -> None:
    config = ScheduleConfig.model_validate(
        {"start_time": "00:00", "end_time": "00:00", "start_day": text, "end_day": text}
    )
    assert config.start_day is config.end_day is day


def test_weekday_numbers_follow_date_weekday() -> None:
    assert [day.number for day in Weekday] == list(range(7))
    assert Weekday.SUNDAY.number == date(2026, 6, 14).weekday()


BASE = {"start_time": "08:00:00", "end_time": "17:00:00"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown IANA time zone 'Mars/Olympus_Mons'"),
        ({"timezone": "../../etc/passwd"}, "unknown IANA time zone '../../etc/passwd'"),
        ({"timezone": "America"}, "unknown IANA time zone 'America'"),
        ({"timezone": ""}, "unknown IANA time zone ''"),
        ({"start_day": "Sunday"}, "start_day and end_day go together"),
        ({"end_day": "fri"}, "start_day and end_day go together"),
        ({"start_day": "Funday", "end_day": "sun"}, "unknown day 'Funday'"),
        ({"start_day": "Su", "end_day": "sun"}, "unknown day 'Su'"),
        ({"start_day": 6, "end_day": "sun"}, "day must be a name"),
        ({"start_time": "08:00:00.5"}, "whole seconds"),
        ({"start_time": "08:00:00+02:00"}, "give a local time"),
        ({"start_time": "25:00"}, "start_time"),
        ({"StartTime": "08:00"}, "Extra inputs are not permitted"),
        ({"weekdays": []}, "weekdays must be a list of day names"),
        ({"weekdays": "mon"}, "weekdays must be a list of day names"),
        ({"weekdays": ["mon", "Monday"]}, "weekdays names a day twice"),
        ({"weekdays": ["mon", "Moonday"]}, "unknown day 'Moonday'"),
        (
            {"weekdays": ["mon"], "start_day": "mon", "end_day": "fri"},
            "weekdays is for a daily schedule",
        ),
    ],
)
def test_config_errors_name_the_problem(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace(".", r"\.").replace("+", r"\+")):
        ScheduleConfig.model_validate(BASE | overrides)


def test_config_is_frozen_and_parses_times() -> None:
    config = ScheduleConfig.model_validate(SCHEDULES["cme"])
    assert (config.start_time, config.end_time) == (time(16, 45, 1), time(16, 45))
    assert config.timezone == "America/Chicago"
    with pytest.raises(ValidationError):
        config.timezone = "UTC"
    assert ScheduleConfig.model_validate(config.model_dump(mode="json")) == config


# --- properties -----------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # transitions at midnight
    "Pacific/Apia",  # skipped 2011-12-30 entirely
]
# Near DST (and other) transitions of those zones, to make edge cases likely.
TRANSITIONS = [
    at(text)
    for text in (
        "2026-03-08T07:00:00+00:00",
        "2026-11-01T06:00:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-10-25T01:00:00+00:00",
        "2026-04-04T15:00:00+00:00",
        "2026-10-03T15:30:00+00:00",
        "2026-04-05T03:00:00+00:00",
        "2026-09-06T04:00:00+00:00",
        "2011-12-30T10:00:00+00:00",
    )
]
DAY_NS = 86400 * NS_PER_S

clock_times = st.one_of(
    st.sampled_from([time(0), time(0, 30), time(1, 30), time(2, 0), time(2, 30), time(17, 1)]),
    st.builds(time, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)),
)
days = st.one_of(st.none(), st.tuples(st.sampled_from(Weekday), st.sampled_from(Weekday)))


some_weekdays = st.one_of(
    st.none(), st.lists(st.sampled_from(Weekday), min_size=1, max_size=7, unique=True)
)


@st.composite
def schedules(draw: st.DrawFn) -> SessionSchedule:
    pair = draw(days)
    return SessionSchedule(
        ScheduleConfig(
            timezone=draw(st.sampled_from(ZONES)),
            start_time=draw(clock_times),
            end_time=draw(clock_times),
            start_day=pair[0] if pair else None,
            end_day=pair[1] if pair else None,
            weekdays=None if pair else draw(some_weekdays),
        )
    )


instants = st.one_of(
    st.integers(at("2000-01-01T00:00:00+00:00"), at("2040-01-01T00:00:00+00:00")),
    st.builds(
        lambda base, delta: base + delta,
        st.sampled_from(TRANSITIONS),
        st.integers(-8 * DAY_NS, 8 * DAY_NS),
    ),
)


@settings(max_examples=300, deadline=None)
@given(schedules(), instants, st.floats(0, 1))
def test_next_boundary_is_consistent_with_windows(
    sched: SessionSchedule, now: int, fraction: float
) -> None:
    window = sched.window_at(now)
    boundary = sched.next_boundary(now)
    assert boundary > now
    assert sched.is_open(boundary - 1) == sched.is_open(now)
    # Nothing changes before the boundary, something changes at it.
    between = now + int((boundary - 1 - now) * fraction)
    assert sched.window_at(between) == sched.window_at(boundary - 1) == window
    assert sched.window_at(boundary) != window
    if window is not None:
        assert window.start_ns <= now < window.end_ns == boundary
        assert sched.same_window(now, window.start_ns)
        assert not sched.same_window(now, window.end_ns)


@settings(max_examples=300, deadline=None)
@given(schedules(), instants)
def test_windows_never_overlap_and_have_sane_lengths(sched: SessionSchedule, now: int) -> None:
    window = sched.window_at(now)
    if window is None:
        return
    period_days = 1 if sched.config is None or sched.config.start_day is None else 7
    assert 0 < window.end_ns - window.start_ns <= period_days * DAY_NS + 2 * 3600 * NS_PER_S
    after = sched.window_at(window.end_ns)
    before = sched.window_at(window.start_ns - 1)
    assert after is None or after.start_ns == window.end_ns
    assert before is None or before.end_ns == window.start_ns


@settings(max_examples=300, deadline=None)
@given(schedules(), instants)
def test_window_edges_are_the_first_instants_reading_the_configured_times(
    sched: SessionSchedule, now: int
) -> None:
    config = sched.config
    window = sched.window_at(now)
    if window is None or config is None:
        return
    zone = ZoneInfo(config.timezone)

    def wall(ns: int) -> datetime:
        return datetime.fromtimestamp(ns // NS_PER_S, zone).replace(tzinfo=None)

    edges = (
        (window.start_ns, config.start_time, config.start_day),
        (window.end_ns, config.end_time, config.end_day),
    )
    for edge, clock, day in edges:
        # Some local date D makes "D at clock" a time the clock first reaches at this edge.
        targets = [datetime.combine(wall(edge).date() - timedelta(days=k), clock) for k in (0, 1)]
        hits = [t for t in targets if wall(edge - NS_PER_S) < t <= wall(edge)]
        assert hits, (edge, clock)
        assert day is None or hits[0].weekday() == day.number


@settings(max_examples=100, deadline=None)
@given(schedules(), instants)
def test_walking_boundaries_gives_ordered_disjoint_windows(
    sched: SessionSchedule, now: int
) -> None:
    seen: list[Window] = []
    for _ in range(12):
        window = sched.window_at(now)
        if window is not None:
            seen.append(window)
        following = sched.next_boundary(now)
        assert following > now
        now = following
    assert all(a.end_ns <= b.start_ns for a, b in pairwise(seen))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ZONES), clock_times, clock_times, instants)
def test_weekdays_naming_every_day_is_the_plain_daily_schedule(
    zone: str, start: time, end: time, now: int
) -> None:
    daily = SessionSchedule(ScheduleConfig(timezone=zone, start_time=start, end_time=end))
    every = SessionSchedule(
        ScheduleConfig(timezone=zone, start_time=start, end_time=end, weekdays=list(Weekday))
    )
    assert every.window_at(now) == daily.window_at(now)
    assert every.next_boundary(now) == daily.next_boundary(now)


@settings(max_examples=200, deadline=None)
@given(schedules(), instants)
def test_a_window_starts_on_a_listed_weekday(sched: SessionSchedule, now: int) -> None:
    config = sched.config
    assert config is not None
    window = sched.window_at(now)
    if window is None or config.weekdays is None:
        return
    start = datetime.fromtimestamp(window.start_ns // NS_PER_S, ZoneInfo(config.timezone))
    listed = {day.number for day in config.weekdays}
    if start.time() == config.start_time:
        assert start.weekday() in listed
    else:  # the start time fell in a clock gap: its window began at the gap's end, maybe the
        # next local day (Pacific/Apia skipped 2011-12-30 whole)
        assert start.weekday() in listed or (start.weekday() - 1) % 7 in listed
