"""Trading-session schedules: when a FIX session may be logged on, and which session instance
an instant belongs to (QuickFIX's StartTime/EndTime/StartDay/EndDay/TimeZone).

Pure arithmetic over integer nanoseconds since the epoch (UTC), like
fixbridge/normalize/timestamps.py: nothing here reads the clock, sleeps or does I/O. Callers
pass ``now`` in and act on the answers (refuse logons, log out and reset at a window's end,
reset at startup when the stored state belongs to another window).

Rules:

* A schedule is a sequence of windows, one per *anchor* date: every local date (daily), every
  local date falling on one of ``weekdays`` (daily on those days, QuickFIX/J's Weekdays: a
  window belongs to the day it starts), or every local date falling on ``start_day``
  (weekly). A window runs from ``start_time`` on its anchor date to the first following
  ``end_time`` (on ``end_day`` when weekly). Each window is a separate session instance.
* Windows are half-open, ``[start, end)``: ``end_time`` is the first instant outside. (QuickFIX
  also counts the whole end second as inside; here the end second is outside, so with
  ``16:45:01``-``16:45:00`` there is a one-second closed gap in which the session rolls.)
* ``end_time <= start_time`` (same day, or daily) means the window ends on the next day, or a
  week later when weekly: start == end is a 24-hour (7-day) session that rolls at that time,
  and its windows touch (one's end is the next one's start) without overlapping.
* Local times are read in ``timezone``. Around DST changes a local time maps to the FIRST
  instant whose local clock reads that time or later:
  - a time that does not exist (spring forward, 02:30 in New York) means the end of the gap
    (03:00 EDT), so a window may be an hour shorter, and one lying entirely inside the gap is
    empty (closed that day);
  - a time that exists twice (fall back, 01:30 in New York) means its first occurrence (EDT),
    so a window may be an hour longer.
  This map never goes backwards in time, so windows never overlap and are never negative.
* No schedule (``SessionSchedule(None)``) is always on: one window covering every instant,
  never reset by time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

NS_PER_S = 1_000_000_000
ALWAYS_START_NS = -(2**63)
"""Start of the always-on window (the smallest signed 64-bit integer)."""
FAR_FUTURE_NS = 2**63 - 1
"""End of the always-on window and its ``next_boundary`` (the largest signed 64-bit integer)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


class Weekday(enum.StrEnum):
    """A day of the week; ``number`` follows :meth:`datetime.date.weekday` (Monday is 0)."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        return _NUMBERS[self]

    @classmethod
    def parse(cls, text: str) -> Weekday:
        """A full name or three-letter abbreviation, any case: "Sunday", "sun", "SUN"."""
        try:
            return _BY_NAME[text.strip().lower()]
        except KeyError:
            raise ValueError(
                f"unknown day {text!r}: use a day name such as 'Sunday' or 'sun'"
            ) from None


_NUMBERS = {day: number for number, day in enumerate(Weekday)}
_BY_NAME = {day.value: day for day in Weekday} | {day.value[:3]: day for day in Weekday}


class ScheduleConfig(BaseModel):
    """One session's trading window. Daily without days; weekly with both days."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    start_time: time
    end_time: time
    start_day: Weekday | None = None
    end_day: Weekday | None = None
    # Daily windows only on these days (the day a window starts); None: every day.
    weekdays: tuple[Weekday, ...] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(
                f"unknown IANA time zone {value!r} (e.g. 'America/New_York', 'UTC')"
            ) from None
        return value

    @field_validator("start_time", "end_time")
    @classmethod
    def _wall_clock_seconds(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError(f"{value} carries a UTC offset: give a local time, zone in 'timezone'")
        if value.microsecond:
            raise ValueError(f"{value} has a fraction of a second: use whole seconds (HH:MM:SS)")
        return value

    @field_validator("start_day", "end_day", mode="before")
    @classmethod
    def _day_name(cls, value: object) -> object:
        if value is None or isinstance(value, Weekday):
            return value
        if isinstance(value, str):
            return Weekday.parse(value)
        raise ValueError(f"day must be a name such as 'Sunday' or 'sun', got {value!r}")

    @field_validator("weekdays", mode="before")
    @classmethod
    def _day_names(cls, value: object) -> object:
        if value is None:
            return value
        if not isinstance(value, list | tuple) or not value:
            raise ValueError(
                'weekdays must be a list of day names, e.g. ["mon", "tue", "wed", "thu", "fri"]'
            )
        days = [cls._day_name(day) for day in value]
        if len(set(days)) != len(days):
            raise ValueError(f"weekdays names a day twice: {list(value)}")
        return tuple(days)

    @model_validator(mode="after")
    def _both_days_or_neither(self) -> ScheduleConfig:
        if self.weekdays is not None and self.start_day is not None:
            raise ValueError(
                "weekdays is for a daily schedule: use it without start_day and end_day"
            )
        if (self.start_day is None) != (self.end_day is None):
            raise ValueError(
                "start_day and end_day go together: set both for a weekly schedule, neither for "
                f"a daily one (got start_day={self.start_day}, end_day={self.end_day})"
            )
        return self


@dataclass(frozen=True, slots=True)
class Window:
    """One session instance: open for ``start_ns <= t < end_ns`` (ns since the epoch, UTC)."""

    start_ns: int
    end_ns: int

    def __contains__(self, ns: int) -> bool:
        return self.start_ns <= ns < self.end_ns


ALWAYS = Window(ALWAYS_START_NS, FAR_FUTURE_NS)


class SessionSchedule:
    """Answers schedule questions for one session; ``None`` config means always on."""

    def __init__(self, config: ScheduleConfig | None) -> None:
        self.config = config
        if config is None:
            return
        self._zone = ZoneInfo(config.timezone)
        self._start_time, self._end_time = config.start_time, config.end_time
        weekly = config.start_day is not None and config.end_day is not None
        self._period = timedelta(days=7 if weekly else 1)
        self._first_day = config.start_day.number if config.start_day is not None else 0
        days = config.weekdays if config.weekdays is not None else tuple(Weekday)
        self._days = frozenset(day.number for day in days)
        span = (config.end_day.number - self._first_day) % 7 if config.end_day is not None else 0
        if span == 0 and config.end_time <= config.start_time:
            span = self._period.days
        self._span = timedelta(days=span)

    @property
    def always_on(self) -> bool:
        return self.config is None

    def window_at(self, now_ns: int) -> Window | None:
        """The window containing ``now_ns``, or None when the session is closed then."""
        if self.config is None:
            return ALWAYS
        anchor = self._anchor(now_ns)
        # -1: a window that began on an earlier anchor; +1: the local date can run backwards
        # (America/Sitka, 1867), so a later anchor's window may already have begun.
        for step in (-1, 0, 1):
            window = self._window(anchor + step * self._period)
            if window is not None and now_ns in window:
                return window
        return None

    def is_open(self, now_ns: int) -> bool:
        return self.window_at(now_ns) is not None

    def next_boundary(self, now_ns: int) -> int:
        """The first instant after ``now_ns`` at which the window (or openness) changes: the
        current window's end, else the next non-empty window's start."""
        current = self.window_at(now_ns)
        if current is not None:
            return current.end_ns
        anchor = self._anchor(now_ns) - self._period
        while True:
            window = self._window(anchor)
            if window is not None and now_ns < window.start_ns < window.end_ns:
                return window.start_ns
            anchor += self._period

    def same_window(self, a_ns: int, b_ns: int) -> bool:
        """Whether both instants lie in one window, i.e. one session instance. False when
        either is outside every window: there is no instance to carry on, so reset."""
        window = self.window_at(a_ns)
        return window is not None and b_ns in window

    def _anchor(self, ns: int) -> date:
        """The last anchor date on or before the local date of ``ns``."""
        local = datetime.fromtimestamp(ns // NS_PER_S, self._zone).date()
        return local - timedelta(days=(local.weekday() - self._first_day) % self._period.days)

    def _window(self, anchor: date) -> Window | None:
        """The window starting on ``anchor``, or None on a day ``weekdays`` leaves out."""
        if anchor.weekday() not in self._days:
            return None
        start = datetime.combine(anchor, self._start_time)
        end = datetime.combine(anchor + self._span, self._end_time)
        return Window(self._instant_s(start) * NS_PER_S, self._instant_s(end) * NS_PER_S)

    def _instant_s(self, wall: datetime) -> int:
        """Seconds since the epoch of the first instant whose local clock reads ``wall`` or
        later (see the module docstring for DST)."""
        first = (wall.replace(tzinfo=self._zone, fold=0) - _EPOCH) // _SECOND
        second = (wall.replace(tzinfo=self._zone, fold=1) - _EPOCH) // _SECOND
        if first <= second:  # exists once (equal) or twice (fold=0 is the earlier occurrence)
            return first
        # In a gap fold=1 lands before the jump (clock reads < wall), fold=0 after it: search
        # for the jump, the first second whose clock reads >= wall.
        before, after = second, first
        while after - before > 1:
            middle = (before + after) // 2
            if datetime.fromtimestamp(middle, self._zone).replace(tzinfo=None) >= wall:
                after = middle
            else:
                before = middle
        return after
