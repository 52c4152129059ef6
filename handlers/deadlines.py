"""Deadlines of incidents and the reminders that guard them (a simple default policy for now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.directory import get_staff_chat
from handlers.worktime import WorkCalendar
from storage.models import Incident, IncidentEvent, Reminder, Role, Staff, Status

REMINDER = "reminder"
ESCALATION = "escalation"

# Only incidents still waiting for a reaction are chased; an answered one is not.
WAITING = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS)


@dataclass(frozen=True)
class DeadlinePolicy:
    """Time to the first public reaction, in working time, and how long before it the assignee is reminded."""

    reaction: timedelta = timedelta(hours=8)
    remind_before: timedelta = timedelta(hours=2)


DEFAULT_POLICY = DeadlinePolicy()
DEFAULT_CALENDAR = WorkCalendar()


def plan_deadline(
    incident: Incident, *, policy: DeadlinePolicy = DEFAULT_POLICY, calendar: WorkCalendar = DEFAULT_CALENDAR
) -> list[Reminder]:
    """Stamp the incident's due time and return its reminder rows (the caller adds them)."""
    assert incident.id is not None
    incident.due_at = calendar.add_working_time(incident.received_at, policy.reaction)
    remind_at = calendar.add_working_time(
        incident.received_at, max(policy.reaction - policy.remind_before, timedelta())
    )
    return [
        Reminder(incident_id=incident.id, kind=REMINDER, due_at=remind_at),
        Reminder(incident_id=incident.id, kind=ESCALATION, due_at=incident.due_at),
    ]


async def _telegram_of(session: AsyncSession, staff_id: int | None) -> int | None:
    if staff_id is None:
        return None
    staff = await session.get(Staff, staff_id)
    return staff.telegram_id if staff is not None and staff.active else None


async def _escalation_chats(session: AsyncSession) -> list[int]:
    rows = await session.exec(select(Staff).where(col(Staff.active).is_(True), col(Staff.telegram_id).is_not(None)))
    return [
        s.telegram_id for s in rows if s.telegram_id is not None and {Role.CURATOR, Role.MCU_HEAD}.intersection(s.roles)
    ]


async def send_due_reminders(session: AsyncSession, *, now: datetime, limit: int = 500) -> int:
    """Turn every due, unsent reminder into outbox intents, once; skip those of incidents already answered."""
    due = list(
        await session.exec(
            select(Reminder, Incident)
            .join(Incident, col(Incident.id) == Reminder.incident_id)
            .where(col(Reminder.sent_at).is_(None), col(Reminder.cancelled_at).is_(None), Reminder.due_at <= now)
            .order_by(col(Reminder.due_at), col(Reminder.id))
            .limit(limit)
        )
    )
    staff_chat = await get_staff_chat(session)
    sent = 0
    for reminder, incident in due:
        assert incident.id is not None
        if incident.status not in WAITING:
            reminder.cancelled_at = now
            session.add(reminder)
            continue
        if reminder.kind == ESCALATION:
            chats = await _escalation_chats(session)
            kind, event = outbox.ESCALATION, "escalated"
        else:
            assignee = await _telegram_of(session, incident.assignee_id)
            chats = [assignee] if assignee is not None else []
            kind, event = outbox.REMINDER, "reminder_sent"
        if staff_chat is not None:
            chats.append(staff_chat)
        for chat in dict.fromkeys(chats):
            outbox.enqueue(session, kind=kind, chat_id=chat, incident_id=incident.id, now=now)
        reminder.sent_at = now
        session.add(reminder)
        session.add(
            IncidentEvent(
                incident_id=incident.id, at=now, kind=event, data={"due_at": reminder.due_at.isoformat(), "to": chats}
            )
        )
        sent += 1
    await session.commit()
    return sent
