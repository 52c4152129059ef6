"""Working time of the administration: working hours, lunch, the Russian production calendar, local overrides."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput
from storage.models import CalendarDay, Setting

# The district's time zone: working hours, deadlines and every date people read are in it.
DISTRICT_TZ = ZoneInfo("Europe/Moscow")

HOURS_KEY = "working_hours"
_DAYS = 3660  # ten years of days: a safe bound for any policy


@dataclass(frozen=True)
class DayHours:
    """A day made different by a decision: a day off (`start` is None), or working hours of its own
    (a shortened pre-holiday day, 9:00–17:00; a Saturday made working)."""

    start: time | None = None
    end: time | None = None

    @property
    def working(self) -> bool:
        return self.start is not None and self.end is not None


@dataclass(frozen=True)
class WorkCalendar:
    """Working hours in a zone; days off come from the official RU calendar plus local overrides."""

    tz: ZoneInfo = DISTRICT_TZ
    start: time = time(9, 0)
    end: time = time(18, 0)
    lunch_start: time | None = time(13, 0)
    lunch_end: time | None = time(14, 0)
    overrides: dict[date, DayHours] = field(default_factory=dict)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        return holidays.country_holidays("RU")

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day].working
        # The RU calendar knows holidays, moved days off and Saturdays made working (2025-11-01).
        return bool(self._holidays.is_working_day(day))

    def _periods(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        start, end = self.start, self.end
        override = self.overrides.get(day)
        if override is not None and override.start is not None and override.end is not None:
            start, end = override.start, override.end
        bounds = [start]
        if self.lunch_start and self.lunch_end and start < self.lunch_start and self.lunch_end < end:
            bounds += [self.lunch_start, self.lunch_end]
        bounds.append(end)
        stamps = [datetime.combine(day, t, tzinfo=self.tz) for t in bounds]
        return [(stamps[i], stamps[i + 1]) for i in range(0, len(stamps), 2)]

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The moment when `amount` of working time has passed after `start`."""
        left = amount
        moment = start.astimezone(self.tz)
        day = moment.date()
        for _ in range(_DAYS):
            for begin, finish in self._periods(day):
                if finish <= moment:
                    continue
                begin = max(begin, moment)
                if begin + left <= finish:
                    return (begin + left).astimezone(UTC)
                left -= finish - begin
            day += timedelta(days=1)
        raise ValueError("no working time found within ten years")

    def subtract_working_time(self, end: datetime, amount: timedelta) -> datetime:
        """The moment `amount` of working time before `end` (for «2 working hours before the deadline»)."""
        left = amount
        moment = end.astimezone(self.tz)
        day = moment.date()
        for _ in range(_DAYS):
            for begin, finish in reversed(self._periods(day)):
                if begin >= moment:
                    continue
                finish = min(finish, moment)
                if finish - left >= begin:
                    return (finish - left).astimezone(UTC)
                left -= finish - begin
            day -= timedelta(days=1)
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

    @property
    def day_length(self) -> timedelta:
        """Working time in an ordinary day (9:00–18:00 with an hour for lunch: 8 hours)."""
        day = date(2026, 1, 1)
        length = datetime.combine(day, self.end) - datetime.combine(day, self.start)
        if self.lunch_start and self.lunch_end:
            length -= datetime.combine(day, self.lunch_end) - datetime.combine(day, self.lunch_start)
        return length

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


@dataclass(frozen=True)
class Hours:
    """The administration's working hours, kept in the settings table and edited in the admin."""

    tz: str = "Europe/Moscow"
    start: str = "09:00"
    end: str = "18:00"
    lunch_start: str | None = "13:00"
    lunch_end: str | None = "14:00"


def _time(value: str, what: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: время в виде ЧЧ:ММ, например 09:00.") from None


def calendar_of(hours: Hours, overrides: dict[date, DayHours] | None = None) -> WorkCalendar:
    try:
        tz = ZoneInfo(hours.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Неизвестный часовой пояс: {hours.tz}. Например: Europe/Moscow.") from None
    start, end = _time(hours.start, "Начало дня"), _time(hours.end, "Конец дня")
    if end <= start:
        raise InvalidInput("Рабочий день должен кончаться позже, чем начинается.")
    lunch_start = _time(hours.lunch_start, "Начало обеда") if hours.lunch_start else None
    lunch_end = _time(hours.lunch_end, "Конец обеда") if hours.lunch_end else None
    if lunch_start and lunch_end and not start < lunch_start < lunch_end < end:
        raise InvalidInput("Обед должен быть внутри рабочего дня.")
    return WorkCalendar(
        tz=tz, start=start, end=end, lunch_start=lunch_start, lunch_end=lunch_end, overrides=overrides or {}
    )


async def get_hours(session: AsyncSession) -> Hours:
    setting = await session.get(Setting, HOURS_KEY)
    if setting is None:
        return Hours()
    return Hours(**json.loads(setting.value))


async def set_hours(session: AsyncSession, hours: Hours) -> None:
    calendar_of(hours)  # refuses what is not a working day
    setting = await session.get(Setting, HOURS_KEY) or Setting(key=HOURS_KEY, value="")
    setting.value = json.dumps(asdict(hours))
    session.add(setting)
    await session.commit()


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    """The working calendar as configured: hours from the settings, plus the override table."""
    overrides = {
        row.day: DayHours(start=row.start, end=row.end) if row.working else DayHours()
        for row in await session.exec(select(CalendarDay))
    }
    return calendar_of(await get_hours(session), overrides)


async def set_day(
    session: AsyncSession,
    *,
    day: date,
    working: bool,
    start: time | None = None,
    end: time | None = None,
    note: str = "",
    hours: Hours | None = None,
) -> CalendarDay:
    """Record a local decision: a day off, a working day, or a working day with its own hours."""
    if working:
        defaults = hours or await get_hours(session)
        start = start or _time(defaults.start, "Начало дня")
        end = end or _time(defaults.end, "Конец дня")
        if end <= start:
            raise InvalidInput("Рабочий день должен кончаться позже, чем начинается.")
    row = await session.get(CalendarDay, day) or CalendarDay(day=day, working=working)
    row.working, row.note = working, note.strip()
    row.start, row.end = (start, end) if working else (None, None)
    session.add(row)
    await session.commit()
    return row


async def list_days(session: AsyncSession) -> list[CalendarDay]:
    return list(await session.exec(select(CalendarDay).order_by(col(CalendarDay.day))))


async def remove_day(session: AsyncSession, day: date) -> None:
    row = await session.get(CalendarDay, day)
    if row is not None:
        await session.delete(row)
        await session.commit()
