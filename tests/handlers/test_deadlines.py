"""Deadlines: working time on the official Russian calendars, policies, reminders, pauses, extensions, digest."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.deadlines import parse_points, send_daily_digest, send_due_reminders, set_points
from handlers.directory import set_staff_chat
from handlers.errors import InvalidInput
from handlers.incidents import (
    answer_incident,
    extend_deadline,
    ingest_message,
    reassign_incident,
    resume_incident,
    set_track,
    set_urgent,
    wait_for_citizen,
)
from handlers.worktime import DayHours, Hours, WorkCalendar, load_calendar, set_day, set_hours
from storage.models import DeadlinePolicy, Incident, IncidentEvent, Outbox, Phase, Reminder, Staff, Status
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link

CAL = WorkCalendar()
MSK = CAL.tz

# Working days per month from the official production calendars (Постановления Правительства РФ
# от 04.10.2024 № 1335 for 2025 and от 24.09.2025 № 1466 for 2026), 247 days in each year.
OFFICIAL_2025 = [17, 20, 21, 22, 18, 19, 23, 21, 22, 23, 19, 22]
OFFICIAL_2026 = [15, 19, 21, 22, 19, 21, 23, 21, 22, 22, 20, 22]


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def working_days(year: int, month: int, calendar: WorkCalendar = CAL) -> int:
    day, count = date(year, month, 1), 0
    while day.month == month:
        count += calendar.is_working_day(day)
        day += timedelta(days=1)
    return count


@pytest.mark.parametrize(("year", "expected"), [(2025, OFFICIAL_2025), (2026, OFFICIAL_2026)])
def test_working_days_match_the_official_calendar(year: int, expected: list[int]) -> None:
    assert [working_days(year, m) for m in range(1, 13)] == expected
    assert sum(expected) == 247


def test_moved_days_off_and_working_saturdays() -> None:
    assert CAL.is_working_day(date(2025, 11, 1))  # Saturday made working
    assert not CAL.is_working_day(date(2025, 11, 3))  # moved day off
    assert not CAL.is_working_day(date(2025, 5, 2)) and not CAL.is_working_day(date(2025, 5, 8))
    assert not CAL.is_working_day(date(2026, 1, 9))  # new-year holidays end on 11 January 2026
    assert CAL.is_working_day(date(2026, 1, 12))
    assert not CAL.is_working_day(date(2026, 3, 9)) and not CAL.is_working_day(date(2026, 5, 11))
    assert not CAL.is_working_day(date(2026, 12, 31))  # moved from 4 January


def test_working_hours_skip_lunch_nights_weekends_and_holidays() -> None:
    assert CAL.add_working_time(msk(2026, 11, 24, 10), timedelta(hours=8)) == msk(2026, 11, 25, 10)
    assert CAL.add_working_time(msk(2026, 11, 24, 12, 30), timedelta(hours=1)) == msk(2026, 11, 24, 14, 30)
    # Friday evening: the clock waits for Monday.
    assert CAL.add_working_time(msk(2026, 11, 27, 20), timedelta(hours=2)) == msk(2026, 11, 30, 11)
    assert CAL.working_time_between(msk(2026, 11, 24, 9), msk(2026, 11, 24, 18)) == timedelta(hours=8)
    assert CAL.working_time_between(msk(2026, 11, 28, 9), msk(2026, 11, 29, 18)) == timedelta()


def test_across_the_year_boundary() -> None:
    # 30 December 2025, 17:00 + 2 working hours: 31 December 2025 (moved from 5 January) and 1–11 January 2026
    # are days off, so the second hour falls on Monday 12 January.
    assert CAL.add_working_time(msk(2025, 12, 30, 17), timedelta(hours=2)) == msk(2026, 1, 12, 10)
    # 30 December 2026, 17:00 + 2 h: 31 December 2026 is off, then the holidays: 11 January 2027, 10:00.
    assert CAL.add_working_time(msk(2026, 12, 30, 17), timedelta(hours=2)) == msk(2027, 1, 11, 10)
    assert CAL.working_time_between(msk(2026, 12, 30, 9), msk(2027, 1, 11, 18)) == timedelta(hours=16)
    assert CAL.subtract_working_time(msk(2027, 1, 11, 10), timedelta(hours=2)) == msk(2026, 12, 30, 17)


def test_subtracting_working_time_skips_lunch_and_nights() -> None:
    assert CAL.subtract_working_time(msk(2026, 11, 25, 10), timedelta(hours=2)) == msk(2026, 11, 24, 17)
    assert CAL.subtract_working_time(msk(2026, 11, 24, 14, 30), timedelta(hours=1)) == msk(2026, 11, 24, 12, 30)
    assert CAL.subtract_working_time(msk(2026, 11, 30, 10), timedelta(hours=2)) == msk(2026, 11, 27, 17)


def test_overrides_make_days_off_working_days_and_short_days() -> None:
    cal = WorkCalendar(
        overrides={
            date(2026, 11, 25): DayHours(),  # a local day off
            date(2026, 11, 28): DayHours(time(9), time(13)),  # a working Saturday morning
            date(2026, 11, 26): DayHours(time(9), time(17)),  # shortened before a holiday
        }
    )
    assert cal.add_working_time(msk(2026, 11, 24, 17), timedelta(hours=2)) == msk(2026, 11, 26, 10)
    assert cal.working_time_between(msk(2026, 11, 26, 0), msk(2026, 11, 27, 0)) == timedelta(hours=7)
    assert cal.working_time_between(msk(2026, 11, 28, 0), msk(2026, 11, 29, 0)) == timedelta(hours=4)


async def test_working_hours_and_overrides_are_data(session: AsyncSession) -> None:
    await set_hours(session, Hours(start="08:00", end="17:00", lunch_start="12:00", lunch_end="13:00"))
    await set_day(session, day=date(2026, 12, 30), working=True, end=time(16), note="предпраздничный")
    await set_day(session, day=date(2026, 11, 27), working=False, note="решение главы района")
    cal = await load_calendar(session)
    assert cal.add_working_time(msk(2026, 11, 24, 8), timedelta(hours=8)) == msk(2026, 11, 24, 17)
    assert not cal.is_working_day(date(2026, 11, 27))
    assert cal.working_time_between(msk(2026, 12, 30, 0), msk(2026, 12, 31, 0)) == timedelta(hours=7)
    with pytest.raises(InvalidInput):
        await set_hours(session, Hours(start="18:00", end="09:00"))
    with pytest.raises(InvalidInput):
        await set_hours(session, Hours(tz="Марс/Олимп"))


def test_reminder_points_are_parsed_or_refused_clearly() -> None:
    points = parse_points("50%, 2h, 0")
    assert [(p.label, p.share, p.before) for p in points] == [
        ("50%", 0.5, None),
        ("2h", None, timedelta(hours=2)),
        ("0", None, timedelta()),
    ]
    assert parse_points("30m,1d")[1].before == timedelta(days=1)
    assert [p.label for p in parse_points("2ч, 30мин, 1д")] == ["2h", "30m", "1d"]
    with pytest.raises(InvalidInput, match="точку напоминания"):
        parse_points("завтра")
    with pytest.raises(InvalidInput):
        parse_points("150%")


async def outbox_of(session: AsyncSession, *kinds: str) -> list[tuple[str, str, str]]:
    rows = await session.exec(select(Outbox).where(col(Outbox.kind).in_(kinds)).order_by(col(Outbox.id)))
    return [(r.kind, r.chat_id, r.payload.get("point", "")) for r in rows]


async def new_incident(session: AsyncSession, clock: Clock, text: str = "Яма на дороге", user: int = 501) -> Incident:
    result = await ingest_message(session, message=citizen(text, at=clock(), user=user), now=clock())
    assert result.incident is not None and result.incident.id is not None
    return result.incident


async def test_reminders_at_each_point_then_escalation_each_once(session: AsyncSession, clock: Clock) -> None:
    await link(session, 1, 7001)  # curator and head of roads
    await link(session, 2, 7002)  # МЦУ head
    await set_staff_chat(session, staff=None, chat_id=-100500)
    incident = await new_incident(session, clock)
    # Tuesday 10:00 MSK + 8 working hours (lunch 13–14) = Wednesday 10:00.
    assert incident.due_at == msk(2026, 11, 25, 10) and incident.reaction_due_at == incident.due_at
    reminders = list(await session.exec(select(Reminder).order_by(col(Reminder.due_at))))
    assert [(r.kind, r.point, r.due_at) for r in reminders] == [
        ("reminder", "50%", msk(2026, 11, 24, 15)),  # 4 working hours in
        ("reminder", "2h", msk(2026, 11, 24, 17)),
        ("reminder", "0", msk(2026, 11, 25, 10)),
        ("escalation", "0", msk(2026, 11, 25, 10)),
    ]

    assert await send_due_reminders(session, now=msk(2026, 11, 24, 14, 59)) == 0
    assert await send_due_reminders(session, now=msk(2026, 11, 24, 15)) == 1
    assert await send_due_reminders(session, now=msk(2026, 11, 24, 15, 30)) == 0
    assert await outbox_of(session, outbox.REMINDER) == [("reminder", "7001", "50%")]
    # After a day of downtime everything missed goes out once, in order.
    assert await send_due_reminders(session, now=msk(2026, 11, 26, 12)) == 3
    assert await send_due_reminders(session, now=msk(2026, 12, 1)) == 0
    assert await outbox_of(session, outbox.REMINDER, outbox.ESCALATION) == [
        ("reminder", "7001", "50%"),
        ("reminder", "7001", "2h"),
        ("reminder", "7001", "0"),
        ("escalation", "7001", "0"),
        ("escalation", "7002", "0"),
        ("escalation", "-100500", "0"),
    ]
    events = [e.kind for e in await session.exec(select(IncidentEvent).order_by(col(IncidentEvent.id)))]
    assert events.count("reminder_sent") == 3 and events.count("escalated") == 1


async def test_configured_points(session: AsyncSession, clock: Clock) -> None:
    await set_points(session, "1h")
    await new_incident(session, clock)
    reminders = list(await session.exec(select(Reminder).order_by(col(Reminder.due_at))))
    assert [(r.kind, r.point, r.due_at) for r in reminders] == [
        ("reminder", "1h", msk(2026, 11, 25, 9)),
        ("escalation", "0", msk(2026, 11, 25, 10)),
    ]


async def test_answered_incident_is_not_chased(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    await answer_incident(session, incident_id=incident.id or 0, staff=head, text="Ответ", now=clock())
    assert await send_due_reminders(session, now=msk(2026, 12, 1)) == 0
    assert await outbox_of(session, outbox.REMINDER, outbox.ESCALATION) == []
    assert all(r.cancelled_at is not None and r.sent_at is None for r in await session.exec(select(Reminder)))


async def test_interim_answer_moves_to_the_final_answer_deadline(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    clock.advance(hours=2)  # Tuesday 12:00
    await answer_incident(
        session, incident_id=incident.id or 0, staff=head, text="Приняли, выедем", now=clock(), final=False
    )
    incident = await session.get(Incident, incident.id)  # type: ignore[assignment]
    assert incident.status == Status.IN_PROGRESS and incident.phase == Phase.ANSWER
    assert incident.first_reaction_at == clock() and incident.answered_at is None
    # 7 working days from Tuesday 12:00 = Thursday 3 December, 12:00.
    assert incident.due_at == msk(2026, 12, 3, 12)
    assert incident.reaction_due_at == msk(2026, 11, 25, 10)  # kept for the ratings
    pending = await session.exec(
        select(Reminder).where(col(Reminder.sent_at).is_(None), col(Reminder.cancelled_at).is_(None))
    )
    assert sorted(r.due_at for r in pending)[-1] == msk(2026, 12, 3, 12)
    assert await send_due_reminders(session, now=msk(2026, 11, 25, 10)) == 0  # the reaction deadline is history


async def test_waiting_for_the_citizen_pauses_and_their_answer_resumes(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)  # due Wednesday 10:00, 8 working hours
    clock.advance(hours=3)  # Tuesday 13:00 MSK: 3 working hours spent (10–13), 5 left
    paused = await wait_for_citizen(session, incident_id=incident.id or 0, staff=head, now=clock())
    assert paused.status == Status.WAITING and paused.due_at is None and paused.paused_left == 5 * 3600
    assert await send_due_reminders(session, now=msk(2026, 11, 27, 12)) == 0

    # Friday 12:00: the citizen writes back in the same chat; 5 working hours from then = Friday 18:00.
    clock.now = msk(2026, 11, 27, 12)
    await ingest_message(session, message=citizen("Дом 5, напротив магазина", at=clock()), now=clock())
    resumed = await session.get(Incident, incident.id)
    assert resumed is not None and resumed.status == Status.IN_PROGRESS
    assert resumed.due_at == msk(2026, 11, 27, 18) and resumed.paused_left is None
    kinds = [e.kind for e in await session.exec(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id))]
    assert "paused" in kinds and "resumed" in kinds


async def test_staff_may_resume_and_may_not_extend_a_paused_deadline(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    await wait_for_citizen(session, incident_id=incident.id or 0, staff=head, now=clock())
    with pytest.raises(InvalidInput, match="приостановлен"):
        await extend_deadline(
            session, incident_id=incident.id or 0, staff=head, until=msk(2026, 12, 1), reason="подрядчик", now=clock()
        )
    back = await resume_incident(session, incident_id=incident.id or 0, staff=head, now=clock())
    assert back.status == Status.IN_PROGRESS and back.due_at == msk(2026, 11, 25, 10)


async def test_reassignment_keeps_the_deadline_and_extension_needs_a_reason(
    session: AsyncSession, clock: Clock
) -> None:
    await link(session, 1, 7001)
    await link(session, 5, 7005)
    officer = await session.get(Staff, 3)
    assert officer is not None
    incident = await new_incident(session, clock)
    number = incident.id or 0
    clock.advance(hours=5)
    moved = await reassign_incident(session, incident_id=number, sector_code="education", staff=officer, now=clock())
    assert moved.due_at == msk(2026, 11, 25, 10)  # the citizen's wait does not restart
    await send_due_reminders(session, now=msk(2026, 11, 24, 15))
    assert await outbox_of(session, outbox.REMINDER) == [("reminder", "7005", "50%")]

    with pytest.raises(InvalidInput, match="причину"):
        await extend_deadline(
            session, incident_id=number, staff=officer, until=msk(2026, 11, 27), reason="", now=clock()
        )
    with pytest.raises(InvalidInput, match="позже"):
        await extend_deadline(
            session, incident_id=number, staff=officer, until=msk(2026, 11, 24, 16), reason="ждём", now=clock()
        )
    extended = await extend_deadline(
        session, incident_id=number, staff=officer, until=msk(2026, 11, 27, 18), reason="ждём подрядчика", now=clock()
    )
    assert extended.due_at == msk(2026, 11, 27, 18) and extended.reaction_due_at == msk(2026, 11, 25, 10)
    event = (await session.exec(select(IncidentEvent).where(IncidentEvent.kind == "deadline_extended"))).one()
    assert event.data["reason"] == "ждём подрядчика" and event.staff_id == officer.id
    assert await send_due_reminders(session, now=msk(2026, 11, 25, 10)) == 0  # the old deadline is not chased


async def test_urgent_incident_gets_four_working_hours(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    urgent = await set_urgent(session, incident_id=incident.id or 0, staff=head, urgent=True, now=clock())
    assert urgent.due_at == msk(2026, 11, 24, 15)  # 10:00 + 4 working hours with lunch


async def test_formal_appeal_gets_thirty_days_from_registration(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    clock.advance(hours=1)
    appeal = await set_track(session, incident_id=incident.id or 0, staff=head, track="appeal", now=clock())
    assert appeal.phase == Phase.ANSWER and appeal.due_at == clock() + timedelta(days=30)
    back = await set_track(session, incident_id=incident.id or 0, staff=head, track="social", now=clock())
    assert back.phase == Phase.REACTION and back.due_at == msk(2026, 11, 25, 10)


async def test_the_most_specific_policy_wins(session: AsyncSession, clock: Clock) -> None:
    session.add(DeadlinePolicy(track="social", sector_code="roads", reaction_minutes=2 * 60, answer_minutes=480))
    session.add(DeadlinePolicy(track="social", source_kind="vk_community", reaction_minutes=60, answer_minutes=480))
    session.add(DeadlinePolicy(track="social", reaction_minutes=24 * 60, reaction_working=False, answer_minutes=60))
    await session.commit()
    roads = await new_incident(session, clock)
    assert roads.due_at == msk(2026, 11, 24, 12)
    water = await new_incident(session, clock, "Нет воды в доме", user=502)
    assert water.sector_code != "roads"
    # Of the policies for any sector and source, the newest one is used: 24 calendar hours.
    assert water.due_at == clock() + timedelta(hours=24)


async def test_daily_digest_once_per_working_day_to_heads_and_the_mcu_head(session: AsyncSession, clock: Clock) -> None:
    await link(session, 1, 7001)  # head of roads
    await link(session, 2, 7002)  # МЦУ head
    await link(session, 5, 7005)  # head of education: nothing due, no message
    await new_incident(session, clock)  # due Wednesday 10:00
    assert await send_daily_digest(session, now=msk(2026, 11, 25, 8, 59)) == 0
    assert await send_daily_digest(session, now=msk(2026, 11, 25, 9, 0)) == 2
    assert (
        await send_daily_digest(
            session,
            now=msk(
                2026,
                11,
                25,
                9,
                0,
            ),
        )
        == 0
    )
    assert await send_daily_digest(session, now=msk(2026, 11, 25, 17)) == 0
    rows = await session.exec(select(Outbox).where(Outbox.kind == outbox.DIGEST).order_by(col(Outbox.id)))
    assert sorted((r.chat_id, len(r.payload["incidents"])) for r in rows) == [("7001", 1), ("7002", 1)]
    # Saturday: no digest; Monday: one again (the incident is overdue by then).
    assert await send_daily_digest(session, now=msk(2026, 11, 28, 10)) == 0
    assert await send_daily_digest(session, now=msk(2026, 11, 30, 11)) == 2
    assert await send_daily_digest(session, now=msk(2026, 11, 30, 12)) == 0
