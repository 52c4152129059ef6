"""Working time of the administration: working hours, lunch, and the Russian production calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays


@dataclass(frozen=True)
class WorkCalendar:
    """Working hours in a zone; days off come from the official RU calendar plus local overrides."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Moscow"))
    start: time = time(9, 0)
    end: time = time(18, 0)
    lunch_start: time | None = time(13, 0)
    lunch_end: time | None = time(14, 0)
    # date -> True for a working day, False for a day off (moved days, local decisions).
    overrides: dict[date, bool] = field(default_factory=dict)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays("RU")

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        # The RU calendar knows holidays, moved days off and Saturdays made working (2025-11-01).
        return bool(self._holidays.is_working_day(day))

    def _periods(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        bounds = [self.start]
        if self.lunch_start and self.lunch_end:
            bounds += [self.lunch_start, self.lunch_end]
        bounds.append(self.end)
        stamps = [datetime.combine(day, t, tzinfo=self.tz) for t in bounds]
        return [(stamps[i], stamps[i + 1]) for i in range(0, len(stamps), 2)]

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment when `amount` of working time has passed after `start`."""
        left = amount
        moment = start.astimezone(self.tz)
        day = moment.date()
        for _ in range(3660):  # ten years of days: a safe bound for any policy
            for begin, finish in self._periods(day):
                if finish <= moment:
                    continue
                begin = max(begin, moment)
                if begin + left <= finish:
                    return (begin + left).astimezone(UTC)
                left -= finish - begin
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years")

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """How much working time lies between two moments (zero if end is before start)."""
        total = timedelta()
        if end <= start:
            return total
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            for begin, finish in self._periods(day):
                lo, hi = max(begin, start), min(finish, end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total
