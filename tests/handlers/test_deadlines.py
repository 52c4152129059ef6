"""Working time on the Russian calendar, and reminders and escalations swept from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.deadlines import send_due_reminders
from handlers.directory import set_staff_chat
from handlers.incidents import answer_incident, ingest_message, reassign_incident
from handlers.worktime import WorkCalendar
from storage.models import IncidentEvent, Outbox, Reminder, Staff
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link

CAL = WorkCalendar()


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CAL.tz)


def test_official_calendar_days() -> None:
    assert not CAL.is_working_day(date(2026, 1, 9))  # new-year holidays
    assert CAL.is_working_day(date(2026, 1, 12))
    assert not CAL.is_working_day(date(2026, 12, 31))  # moved day off
    assert CAL.is_working_day(date(2025, 11, 1))  # working Saturday
    assert not CAL.is_working_day(date(2025, 11, 3))
    assert sum(CAL.is_working_day(date(2026, 1, 1) + timedelta(days=i)) for i in range(365)) == 247


def test_working_hours_skip_lunch_nights_weekends_and_holidays() -> None:
    assert CAL.add_working_time(msk(2026, 11, 24, 10), timedelta(hours=8)) == msk(2026, 11, 25, 10)
    assert CAL.add_working_time(msk(2026, 11, 24, 12, 30), timedelta(hours=1)) == msk(2026, 11, 24, 14, 30)
    # Friday evening: the clock waits for Monday.
    assert CAL.add_working_time(msk(2026, 11, 27, 20), timedelta(hours=2)) == msk(2026, 11, 30, 11)
    # Across the new year: 30 December 17:00 + 2 h lands on 11 January 2027 (the 2027 holidays are known).
    assert CAL.add_working_time(msk(2026, 12, 30, 17), timedelta(hours=2)).astimezone(CAL.tz).date() > date(2027, 1, 8)
    assert CAL.working_time_between(msk(2026, 11, 24, 9), msk(2026, 11, 24, 18)) == timedelta(hours=8)
    assert CAL.working_time_between(msk(2026, 11, 28, 9), msk(2026, 11, 29, 18)) == timedelta()


def test_overrides_make_local_days_off_and_working_days() -> None:
    cal = WorkCalendar(overrides={date(2026, 11, 25): False, date(2026, 11, 28): True})
    assert cal.add_working_time(msk(2026, 11, 24, 17), timedelta(hours=2)) == msk(2026, 11, 26, 10)
    assert cal.is_working_day(date(2026, 11, 28))


async def sent(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.exec(
        select(Outbox).where(col(Outbox.kind).in_([outbox.REMINDER, outbox.ESCALATION])).order_by(col(Outbox.id))
    )
    return [(r.kind, r.chat_id) for r in rows]


async def test_reminder_then_escalation_each_once(session: AsyncSession, clock: Clock) -> None:
    await link(session, 1, 7001)  # curator and head of roads
    await link(session, 2, 7002)  # МЦУ head
    await set_staff_chat(session, staff=None, chat_id=-100500)
    await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())

    assert await send_due_reminders(session, now=clock() + timedelta(hours=3)) == 0
    # Reminder 2 working hours before the deadline: Tuesday 10:00 + 6 working hours = 17:00 MSK.
    assert await send_due_reminders(session, now=datetime(2026, 11, 24, 14, 0, tzinfo=UTC)) == 1
    assert await sent(session) == [(outbox.REMINDER, "7001"), (outbox.REMINDER, "-100500")]
    assert await send_due_reminders(session, now=datetime(2026, 11, 24, 14, 30, tzinfo=UTC)) == 0

    assert await send_due_reminders(session, now=datetime(2026, 11, 25, 7, 0, tzinfo=UTC)) == 1
    assert (await sent(session))[2:] == [
        (outbox.ESCALATION, "7001"),
        (outbox.ESCALATION, "7002"),
        (outbox.ESCALATION, "-100500"),
    ]
    # A sweep after a long outage sends nothing twice.
    assert await send_due_reminders(session, now=datetime(2026, 12, 1, tzinfo=UTC)) == 0
    kinds = [e.kind for e in await session.exec(select(IncidentEvent).order_by(col(IncidentEvent.id)))]
    assert kinds.count("reminder_sent") == 1 and kinds.count("escalated") == 1


async def test_answered_incident_is_not_chased(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    result = await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())
    assert result.incident is not None
    await answer_incident(session, incident_id=result.incident.id or 0, staff=head, text="Ответ", now=clock())
    assert await send_due_reminders(session, now=datetime(2026, 12, 1, tzinfo=UTC)) == 0
    assert await sent(session) == []
    reminders = list(await session.exec(select(Reminder)))
    assert all(r.cancelled_at is not None and r.sent_at is None for r in reminders)


async def test_reminder_follows_the_incident_to_the_new_assignee(session: AsyncSession, clock: Clock) -> None:
    await link(session, 1, 7001)
    await link(session, 5, 7005)
    officer = await session.get(Staff, 3)
    assert officer is not None
    result = await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())
    assert result.incident is not None
    await reassign_incident(
        session, incident_id=result.incident.id or 0, sector_code="education", staff=officer, now=clock()
    )
    await send_due_reminders(session, now=datetime(2026, 11, 24, 14, 0, tzinfo=UTC))
    assert await sent(session) == [(outbox.REMINDER, "7005")]
