"""Deadlines that follow the incident: policies as data, reminders at configured points, escalation, the digest.

The deadline now running is `incident.due_at`; `incident.phase` says what it is for (the first reaction, or the
final answer after an interim one), `incident.track` which rules apply (social media or a 59-ФЗ appeal).
Every reminder is a row with its due time. One sweep sends what is due, marks it sent in the same
transaction, and skips what no longer needs chasing: a crash or a day of downtime sends the missed ones once.
Whenever the deadline moves (interim answer, pause, extension, urgency, track), the unsent reminders are
cancelled and planned again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.directory import get_staff_chat
from handlers.errors import InvalidInput, NotFound
from handlers.worktime import WorkCalendar, load_calendar
from storage.models import (
    DeadlinePolicy,
    Incident,
    IncidentEvent,
    Phase,
    Reminder,
    Role,
    Sector,
    Setting,
    Source,
    SourceKind,
    Staff,
    Status,
    Track,
)

REMINDER = "reminder"
ESCALATION = "escalation"

# Incidents whose deadline runs; answered, closed and paused ones are not chased.
CHASED = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS)


def is_overdue(incident: Incident, now: datetime) -> bool:
    """The deadline runs and has passed: the list's «просрочен» filter, the digest, the cards."""
    return incident.status in CHASED and incident.due_at is not None and incident.due_at < now


POINTS_KEY = "reminder_points"
DEFAULT_POINTS = "50%, 2h, 0"
DIGEST_TIME_KEY = "digest_time"
DIGEST_SENT_KEY = "digest_sent_on"
DEFAULT_DIGEST_TIME = "09:00"

_POINT = re.compile(r"^(?:(\d{1,2})%|(\d+(?:[.,]\d+)?)\s*(h|m|d|ч|мин|м|дн|д))$")
_UNITS = {"h": "h", "ч": "h", "m": "m", "мин": "m", "м": "m", "d": "d", "дн": "d", "д": "d"}


@dataclass(frozen=True)
class Point:
    """A moment before a deadline: a share of the time given, or a fixed time before the end."""

    label: str
    share: float | None = None
    before: timedelta | None = None


def parse_points(text: str) -> list[Point]:
    """«50%, 2h, 0»: halfway, 2 hours before (working hours when the deadline counts them), at the deadline."""
    points = []
    for raw in (p.strip().lower().replace(" ", "") for p in text.split(",")):
        if not raw:
            continue
        if raw == "0":
            points.append(Point(label="0", before=timedelta()))
            continue
        match = _POINT.match(raw)
        if match is None:
            raise InvalidInput(
                f"Не понимаю точку напоминания «{raw}». Пишите через запятую: 50% (доля срока), "
                "2ч (часов до срока), 30мин (минут), 1д (дней), 0 (в момент срока)."
            )
        if match.group(1):
            share = int(match.group(1))
            if not 0 < share < 100:
                raise InvalidInput("Доля срока — от 1% до 99%.")
            points.append(Point(label=raw, share=share / 100))
        else:
            amount = float(match.group(2).replace(",", "."))
            unit = _UNITS[match.group(3)]
            before = timedelta(**{{"h": "hours", "m": "minutes", "d": "days"}[unit]: amount})
            points.append(Point(label=f"{match.group(2)}{unit}", before=before))
    return points


async def get_points(session: AsyncSession) -> list[Point]:
    setting = await session.get(Setting, POINTS_KEY)
    return parse_points(setting.value if setting else DEFAULT_POINTS)


async def set_points(session: AsyncSession, text: str) -> list[Point]:
    points = parse_points(text)  # refuses nonsense before it is kept
    setting = await session.get(Setting, POINTS_KEY) or Setting(key=POINTS_KEY, value="")
    setting.value = ", ".join(p.label for p in points)
    session.add(setting)
    await session.commit()
    return points


POLICY_TRACKS = ("social", "urgent", "appeal")


async def list_policies(session: AsyncSession) -> list[DeadlinePolicy]:
    return list(await session.exec(select(DeadlinePolicy).order_by(col(DeadlinePolicy.track), col(DeadlinePolicy.id))))


async def save_policy(session: AsyncSession, policy: DeadlinePolicy) -> DeadlinePolicy:
    """Add or change a policy after checking it; incidents already running keep their deadline."""
    if policy.track not in POLICY_TRACKS:
        raise InvalidInput("Порядок: social (обычный), urgent (срочный) или appeal (59-ФЗ).")
    if policy.reaction_minutes is not None and policy.reaction_minutes <= 0:
        raise InvalidInput("Срок реакции — больше нуля минут (или пусто, если его нет).")
    if policy.answer_minutes <= 0:
        raise InvalidInput("Срок окончательного ответа — больше нуля минут.")
    if policy.sector_code is not None and await session.get(Sector, policy.sector_code) is None:
        raise InvalidInput("Такого блока нет в справочнике.")
    if policy.source_kind is not None and policy.source_kind not in {k.value for k in SourceKind}:
        raise InvalidInput("Неизвестный вид источника.")
    session.add(policy)
    await session.commit()
    await session.refresh(policy)
    return policy


async def delete_policy(session: AsyncSession, policy_id: int) -> None:
    policy = await session.get(DeadlinePolicy, policy_id)
    if policy is None:
        raise NotFound("Такой политики сроков нет.")
    if policy.sector_code is None and policy.source_kind is None:
        generic = [p for p in await list_policies(session) if p.track == policy.track and p.sector_code is None]
        if len([p for p in generic if p.source_kind is None]) <= 1:
            raise InvalidInput("Это основная политика порядка рассмотрения: её можно изменить, но не удалить.")
    await session.delete(policy)
    await session.commit()


def policy_track(incident: Incident) -> str:
    if incident.track == Track.APPEAL:
        return "appeal"
    return "urgent" if incident.urgent else "social"


async def find_policy(session: AsyncSession, incident: Incident) -> DeadlinePolicy:
    """The most specific policy for the incident's track: sector and source kind, then either, then neither."""
    source = await session.get(Source, incident.source_id)
    kind = source.kind if source is not None else None
    rows = list(await session.exec(select(DeadlinePolicy).where(DeadlinePolicy.track == policy_track(incident))))
    fitting = [p for p in rows if p.sector_code in (None, incident.sector_code) and p.source_kind in (None, kind)]
    if not fitting:
        # Nobody should delete the defaults, but then the plain 8 working hours / 7 working days still hold.
        return DeadlinePolicy(track="social", reaction_minutes=8 * 60, answer_minutes=7 * 8 * 60)
    # Of equally specific ones, the newest.
    return max(fitting, key=lambda p: (p.sector_code is not None, p.source_kind is not None, p.id or 0))


def _add(calendar: WorkCalendar, start: datetime, amount: timedelta, working: bool) -> datetime:
    return calendar.add_working_time(start, amount) if working else start + amount


def _left(calendar: WorkCalendar, now: datetime, due: datetime, working: bool) -> timedelta:
    if due <= now:
        return timedelta()
    return calendar.working_time_between(now, due) if working else due - now


def plan_reminders(
    incident: Incident,
    *,
    start: datetime,
    calendar: WorkCalendar,
    points: list[Point],
    working: bool,
    now: datetime,
) -> list[Reminder]:
    """Reminder rows for the deadline now running (from `start` to `incident.due_at`), those still ahead."""
    assert incident.id is not None and incident.due_at is not None
    due = incident.due_at
    rows = []
    for point in points:
        if point.share is not None:
            span = calendar.working_time_between(start, due) if working else due - start
            at = _add(calendar, start, span * point.share, working)
        else:
            before = point.before or timedelta()
            at = calendar.subtract_working_time(due, before) if working and before else due - before
        if start < at and at >= now:
            rows.append(Reminder(incident_id=incident.id, kind=REMINDER, point=point.label, due_at=at))
    if due >= now:
        rows.append(Reminder(incident_id=incident.id, kind=ESCALATION, point="0", due_at=due))
    return rows


async def _replan(session: AsyncSession, incident: Incident, *, start: datetime, working: bool, now: datetime) -> None:
    await cancel_reminders(session, incident, now)
    if incident.due_at is None:
        return
    calendar = await load_calendar(session)
    points = await get_points(session)
    session.add_all(plan_reminders(incident, start=start, calendar=calendar, points=points, working=working, now=now))


async def cancel_reminders(session: AsyncSession, incident: Incident, now: datetime) -> None:
    rows = await session.exec(
        select(Reminder).where(
            Reminder.incident_id == incident.id, col(Reminder.sent_at).is_(None), col(Reminder.cancelled_at).is_(None)
        )
    )
    for reminder in rows:
        reminder.cancelled_at = now
        session.add(reminder)


async def start_clock(session: AsyncSession, incident: Incident, *, now: datetime, remind: bool = True) -> None:
    """At intake: the first-reaction deadline counts from when the citizen wrote (a 59-ФЗ appeal: the answer's)."""
    policy = await find_policy(session, incident)
    calendar = await load_calendar(session)
    start = incident.received_at
    if policy.reaction_minutes is None:
        incident.phase = Phase.ANSWER
        working = policy.answer_working
        incident.due_at = _add(calendar, start, timedelta(minutes=policy.answer_minutes), working)
    else:
        incident.phase = Phase.REACTION
        working = policy.reaction_working
        incident.due_at = _add(calendar, start, timedelta(minutes=policy.reaction_minutes), working)
        incident.reaction_due_at = incident.due_at
    if remind:
        await _replan(session, incident, start=start, working=working, now=now)


async def restart_clock(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    """A reopened incident: its deadline still counts from when the citizen wrote; reminders still ahead are sent."""
    if incident.phase == Phase.ANSWER and incident.due_at is not None:
        policy = await find_policy(session, incident)
        await _replan(session, incident, start=now, working=policy.answer_working, now=now)
        return
    await start_clock(session, incident, now=now)


async def answer_clock(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    """An interim answer: the reaction is given; the final answer is due `answer_minutes` from now."""
    policy = await find_policy(session, incident)
    calendar = await load_calendar(session)
    incident.phase = Phase.ANSWER
    incident.due_at = _add(calendar, now, timedelta(minutes=policy.answer_minutes), policy.answer_working)
    await _replan(session, incident, start=now, working=policy.answer_working, now=now)


async def _working(session: AsyncSession, incident: Incident) -> bool:
    policy = await find_policy(session, incident)
    if incident.phase == Phase.REACTION and policy.reaction_minutes is not None:
        return policy.reaction_working
    return policy.answer_working


async def pause_clock(session: AsyncSession, incident: Incident, *, now: datetime) -> timedelta:
    """«Ждём ответа жителя»: keep what is left of the deadline and stop chasing."""
    left = timedelta()
    if incident.due_at is not None:
        calendar = await load_calendar(session)
        left = _left(calendar, now, incident.due_at, await _working(session, incident))
    incident.paused_left = int(left.total_seconds())
    incident.due_at = None
    await cancel_reminders(session, incident, now)
    return left


async def resume_clock(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    """The citizen answered (or staff go on): what was left of the deadline runs again from now."""
    if incident.paused_left is None:
        return
    working = await _working(session, incident)
    calendar = await load_calendar(session)
    incident.due_at = _add(calendar, now, timedelta(seconds=incident.paused_left), working)
    incident.paused_left = None
    await _replan(session, incident, start=now, working=working, now=now)


async def extend_clock(session: AsyncSession, incident: Incident, *, until: datetime, now: datetime) -> None:
    if incident.due_at is not None and until <= incident.due_at:
        raise InvalidInput("Новый срок должен быть позже нынешнего.")
    if until <= now:
        raise InvalidInput("Новый срок уже прошёл.")
    incident.due_at = until
    await _replan(session, incident, start=now, working=await _working(session, incident), now=now)


async def recompute_clock(session: AsyncSession, incident: Incident, *, now: datetime) -> None:
    """Urgency or track changed: the deadline of the phase is set again by the policy that now applies."""
    policy = await find_policy(session, incident)
    calendar = await load_calendar(session)
    if incident.track == Track.APPEAL:
        # A formal appeal: the final answer is due 30 days (by default) from its registration, which is now.
        incident.phase = Phase.ANSWER
        incident.due_at = _add(calendar, now, timedelta(minutes=policy.answer_minutes), policy.answer_working)
        await _replan(session, incident, start=now, working=policy.answer_working, now=now)
    elif incident.phase == Phase.REACTION and policy.reaction_minutes is not None:
        start = incident.received_at
        incident.due_at = _add(calendar, start, timedelta(minutes=policy.reaction_minutes), policy.reaction_working)
        incident.reaction_due_at = incident.due_at
        await _replan(session, incident, start=start, working=policy.reaction_working, now=now)


async def extension_until(session: AsyncSession, *, incident_id: int, working_days: int, now: datetime) -> datetime:
    """The running deadline moved by whole working days (from now, if it has already passed)."""
    incident = await session.get(Incident, incident_id)
    if incident is None or incident.due_at is None:
        raise InvalidInput("Срок по этому инциденту сейчас не идёт.")
    calendar = await load_calendar(session)
    return calendar.add_working_time(max(incident.due_at, now), calendar.day_length * working_days)


async def _telegram_of(session: AsyncSession, staff_id: int | None) -> int | None:
    if staff_id is None:
        return None
    staff = await session.get(Staff, staff_id)
    return staff.telegram_id if staff is not None and staff.active else None


async def _staff_with(session: AsyncSession, roles: set[str]) -> list[Staff]:
    rows = await session.exec(select(Staff).where(col(Staff.active).is_(True), col(Staff.telegram_id).is_not(None)))
    return [s for s in rows if roles.intersection(s.roles)]


async def send_due_reminders(session: AsyncSession, *, now: datetime, batch: int = 500) -> int:
    """Turn every due, unsent reminder into outbox intents, once, oldest first, in transactions of `batch`
    reminders; drop those no longer needed. Returns how many were sent."""
    sent = 0
    while True:
        handled, done = await _send_batch(session, now=now, limit=batch)
        sent += done
        if handled < batch:
            return sent


async def _send_batch(session: AsyncSession, *, now: datetime, limit: int) -> tuple[int, int]:
    due = list(
        await session.exec(
            select(Reminder, Incident)
            .join(Incident, col(Incident.id) == Reminder.incident_id)
            .where(col(Reminder.sent_at).is_(None), col(Reminder.cancelled_at).is_(None), Reminder.due_at <= now)
            .order_by(col(Reminder.due_at), col(Reminder.id))
            .limit(limit)
        )
    )
    if not due:
        return 0, 0
    staff_chat = await get_staff_chat(session)
    # Looked up once per batch: who is linked to Telegram, and the superiors who get escalations.
    linked = {
        s.id: s.telegram_id
        for s in await session.exec(
            select(Staff).where(col(Staff.active).is_(True), col(Staff.telegram_id).is_not(None))
        )
    }
    superiors = [s.telegram_id for s in await _staff_with(session, {Role.CURATOR, Role.MCU_HEAD})]
    sent = 0
    for reminder, incident in due:
        assert incident.id is not None
        if incident.status not in CHASED or incident.due_at is None:
            reminder.cancelled_at = now
            session.add(reminder)
            continue
        if reminder.kind == ESCALATION:
            # The sector head's superiors: the curator and the МЦУ head; the officer's chat sees it too.
            chats = [*superiors, staff_chat]
            kind, event = outbox.ESCALATION, "escalated"
        else:
            # Nobody linked to take it: the officer's chat is reminded instead.
            chats = [linked.get(incident.assignee_id or 0) or staff_chat]
            kind, event = outbox.REMINDER, "reminder_sent"
        targets = [c for c in dict.fromkeys(chats) if c is not None]
        payload = {"point": reminder.point, "due_at": incident.due_at.isoformat(), "phase": incident.phase}
        for chat in targets:
            outbox.enqueue(session, kind=kind, chat_id=chat, incident_id=incident.id, payload=payload, now=now)
        reminder.sent_at = now
        session.add(reminder)
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                at=now,
                kind=event,
                data={"due_at": incident.due_at.isoformat(), "point": reminder.point, "to": targets},
            )
        )
        sent += 1
    await session.commit()
    return len(due), sent


async def get_digest_time(session: AsyncSession) -> str:
    return f"{await _digest_time(session):%H:%M}"


def parse_digest_time(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("Время сводки — в виде ЧЧ:ММ, например 09:00.") from None


async def set_digest_time(session: AsyncSession, value: str) -> None:
    moment = parse_digest_time(value)
    setting = await session.get(Setting, DIGEST_TIME_KEY) or Setting(key=DIGEST_TIME_KEY, value="")
    setting.value = f"{moment:%H:%M}"
    session.add(setting)
    await session.commit()


async def _digest_time(session: AsyncSession) -> time:
    setting = await session.get(Setting, DIGEST_TIME_KEY)
    try:
        return time.fromisoformat(setting.value if setting else DEFAULT_DIGEST_TIME)
    except ValueError:
        return time.fromisoformat(DEFAULT_DIGEST_TIME)


async def _claim_digest(session: AsyncSession, day: str) -> bool:
    """Mark today's digest as sent; False if another sweep (or process) already did."""
    if await session.get(Setting, DIGEST_SENT_KEY) is None:
        session.add(Setting(key=DIGEST_SENT_KEY, value=""))
        await session.flush()
    claimed = await session.exec(
        update(Setting).where(col(Setting.key) == DIGEST_SENT_KEY, col(Setting.value) < day).values(value=day)
    )
    return bool(claimed.rowcount)


async def send_daily_digest(session: AsyncSession, *, now: datetime) -> int:
    """On a working day, once after the digest time: overdue and due-today incidents, per sector to its head and
    all of them to the МЦУ head. After downtime, today's digest is sent once when the process is back."""
    calendar = await load_calendar(session)
    local = now.astimezone(calendar.tz)
    if not calendar.is_working_day(local.date()) or local.time() < await _digest_time(session):
        return 0
    if not await _claim_digest(session, local.date().isoformat()):
        await session.rollback()
        return 0
    end_of_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=calendar.tz)
    rows = list(
        await session.exec(
            select(Incident)
            .where(col(Incident.status).in_(CHASED), col(Incident.due_at) < end_of_day)
            .order_by(col(Incident.due_at))
        )
    )
    sectors = {s.code: s for s in await session.exec(select(Sector))}
    by_head: dict[int, list[int]] = {}
    for incident in rows:
        sector = sectors.get(incident.sector_code or "")
        head_id = sector.head_id if sector is not None else None
        if head_id is not None and incident.id is not None:
            by_head.setdefault(head_id, []).append(incident.id)
    messages = 0
    everything = [i.id for i in rows if i.id is not None]
    for head in await _staff_with(session, {Role.MCU_HEAD}):
        # The МЦУ head sees every sector (their own included) in one message.
        by_head.pop(head.id or 0, None)
        if everything:
            assert head.telegram_id is not None
            outbox.enqueue(
                session, kind=outbox.DIGEST, chat_id=head.telegram_id, payload={"incidents": everything}, now=now
            )
            messages += 1
    for head_id, numbers in by_head.items():
        chat = await _telegram_of(session, head_id)
        if chat is not None:
            outbox.enqueue(session, kind=outbox.DIGEST, chat_id=chat, payload={"incidents": numbers}, now=now)
            messages += 1
    await session.commit()
    return messages
