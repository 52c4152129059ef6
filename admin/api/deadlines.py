"""Deadline policies, working hours, reminder points and the working calendar over the API."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from dataclasses import asdict
from datetime import date, time

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from admin.deps import CurrentUser, Manager, Now, SessionDep, refused
from handlers import audit
from handlers.deadlines import (
    DEFAULT_DIGEST_TIME,
    DEFAULT_POINTS,
    delete_policy,
    get_digest_time,
    get_points,
    list_policies,
    parse_digest_time,
    parse_points,
    save_policy,
    set_digest_time,
    set_points,
)
from handlers.errors import DomainError
from handlers.worktime import Hours, calendar_of, get_hours, list_days, remove_day, set_day, set_hours
from storage.models import DeadlinePolicy

router = APIRouter(prefix="/api/deadlines", tags=["deadlines"])
calendar_router = APIRouter(prefix="/api/calendar", tags=["deadlines"])


class PolicyIn(BaseModel):
    track: str
    source_kind: str | None = None
    sector_code: str | None = None
    reaction_minutes: int | None = None
    reaction_working: bool = True
    answer_minutes: int
    answer_working: bool = True
    note: str = ""


class PolicyOut(PolicyIn):
    id: int


class DeadlineSettings(BaseModel):
    """Working hours (HH:MM, a zone of the tz database), reminder points («50%, 2h, 0») and the digest time."""

    tz: str = "Europe/Moscow"
    start: str = "09:00"
    end: str = "18:00"
    lunch_start: str | None = "13:00"
    lunch_end: str | None = "14:00"
    reminder_points: str = DEFAULT_POINTS
    digest_time: str = DEFAULT_DIGEST_TIME


class CalendarDayIn(BaseModel):
    working: bool
    start: time | None = None
    end: time | None = None
    note: str = ""


class CalendarDayOut(CalendarDayIn):
    day: date


@router.get("/policies")
async def policies_list(session: SessionDep, _user: CurrentUser) -> list[PolicyOut]:
    """Deadline policies: per track (social, urgent, appeal), optionally per sector and source kind."""
    return [PolicyOut.model_validate(p.model_dump()) for p in await list_policies(session)]


@router.post("/policies", status_code=status.HTTP_201_CREATED)
async def policy_create(body: PolicyIn, session: SessionDep, user: Manager, now: Now) -> PolicyOut:
    """Add a policy (the most specific one that fits an incident applies)."""
    audit.note(session, user=user, action="policy_created", target="deadline_policy", now=now, **body.model_dump())
    try:
        policy = await save_policy(session, DeadlinePolicy.model_validate(body.model_dump()))
    except DomainError as error:
        raise refused(error) from error
    return PolicyOut.model_validate(policy.model_dump())


@router.put("/policies/{policy_id}")
async def policy_update(policy_id: int, body: PolicyIn, session: SessionDep, user: Manager, now: Now) -> PolicyOut:
    """Change a policy; running deadlines stay as they are, new ones follow it."""
    policy = await session.get(DeadlinePolicy, policy_id)
    if policy is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Такой политики сроков нет.")
    policy.sqlmodel_update(body.model_dump())
    audit.note(
        session, user=user, action="policy_changed", target=f"deadline_policy:{policy_id}", now=now, **body.model_dump()
    )
    try:
        policy = await save_policy(session, policy)
    except DomainError as error:
        raise refused(error) from error
    return PolicyOut.model_validate(policy.model_dump())


@router.delete("/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def policy_delete(policy_id: int, session: SessionDep, user: Manager, now: Now) -> None:
    """Remove a specific policy (the main one of each track stays)."""
    audit.note(session, user=user, action="policy_deleted", target=f"deadline_policy:{policy_id}", now=now)
    try:
        await delete_policy(session, policy_id)
    except DomainError as error:
        raise refused(error) from error


@router.get("/settings")
async def settings_read(session: SessionDep, _user: CurrentUser) -> DeadlineSettings:
    """Working hours, reminder points and the time of the morning digest."""
    hours = await get_hours(session)
    points = ", ".join(p.label for p in await get_points(session))
    return DeadlineSettings(**asdict(hours), reminder_points=points, digest_time=await get_digest_time(session))


@router.put("/settings")
async def settings_write(body: DeadlineSettings, session: SessionDep, user: Manager, now: Now) -> DeadlineSettings:
    """Change working hours, reminder points or the digest time (checked before anything is kept)."""
    hours = Hours(tz=body.tz, start=body.start, end=body.end, lunch_start=body.lunch_start, lunch_end=body.lunch_end)
    try:
        parse_points(body.reminder_points)  # everything is checked before anything is kept
        parse_digest_time(body.digest_time)
        calendar_of(hours)
        audit.note(
            session, user=user, action="deadline_settings_changed", target="settings", now=now, **body.model_dump()
        )
        await set_hours(session, hours)
        await set_points(session, body.reminder_points)
        await set_digest_time(session, body.digest_time)
    except DomainError as error:
        raise refused(error) from error
    return await settings_read(session, user)


@calendar_router.get("/days")
async def calendar_days(session: SessionDep, _user: CurrentUser) -> list[CalendarDayOut]:
    """Local decisions over the official calendar: days off, working days, shortened days."""
    return [CalendarDayOut.model_validate(d.model_dump()) for d in await list_days(session)]


@calendar_router.put("/days/{day}")
async def calendar_day_set(
    day: date, body: CalendarDayIn, session: SessionDep, user: Manager, now: Now
) -> CalendarDayOut:
    """Make a day off, a working day, or a working day with its own hours (a shortened pre-holiday day)."""
    data = body.model_dump(mode="json")
    audit.note(session, user=user, action="calendar_day_set", target=f"calendar_day:{day}", now=now, **data)
    try:
        row = await set_day(session, day=day, working=body.working, start=body.start, end=body.end, note=body.note)
    except DomainError as error:
        raise refused(error) from error
    return CalendarDayOut.model_validate(row.model_dump())


@calendar_router.delete("/days/{day}", status_code=status.HTTP_204_NO_CONTENT)
async def calendar_day_remove(day: date, session: SessionDep, user: Manager, now: Now) -> None:
    """Return a day to the official calendar."""
    audit.note(session, user=user, action="calendar_day_removed", target=f"calendar_day:{day}", now=now)
    await remove_day(session, day)
