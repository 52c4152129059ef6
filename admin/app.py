"""The FastAPI app: health check, login, and the first JSON API over incidents."""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at runtime, and the
# dependency aliases (SessionDep, CurrentUser) live inside create_app, where string annotations cannot be resolved.

from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.settings import AdminSettings
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
from handlers.errors import DomainError, NotFound
from handlers.incidents import list_incidents, view_incident
from handlers.users import log_in, log_out, user_by_token
from handlers.vocab import STATUS_TITLES
from handlers.worktime import Hours, calendar_of, get_hours, list_days, remove_day, set_day, set_hours
from storage.db import SessionPool
from storage.models import DeadlinePolicy, Incident, Role, Sector, User

COOKIE = "mcu_session"


class LoginIn(BaseModel):
    login: str
    password: str


class TokenOut(BaseModel):
    token: str


class MeOut(BaseModel):
    login: str
    role: str


class IncidentPublic(BaseModel):
    id: int
    status: str
    status_title: str
    sector_code: str | None
    source_id: int
    received_at: datetime
    due_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    text: str
    permalink: str | None
    classified_by: str | None
    settlement: str | None


class MessageOut(BaseModel):
    id: int
    text: str
    attachments: list[dict[str, Any]]
    received_at: datetime
    edited_at: datetime | None
    permalink: str | None


class EventOut(BaseModel):
    at: datetime
    kind: str
    staff_id: int | None
    data: dict[str, Any]


class ReplyOut(BaseModel):
    id: int
    text: str
    is_final: bool
    state: str
    created_at: datetime
    published_at: datetime | None


class IncidentDetail(IncidentPublic):
    source_kind: str
    source_title: str
    author_name: str | None
    author_profile: str | None
    assignee: str | None
    attachments: list[dict[str, Any]]
    messages: list[MessageOut]
    events: list[EventOut]
    last_reply: ReplyOut | None


class IncidentPage(BaseModel):
    items: list[IncidentPublic]
    total: int


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


# Who may change how the МЦУ works (deadlines, calendar); everyone logged in may read it.
MANAGERS = frozenset({Role.ADMIN, Role.MCU_HEAD, Role.CURATOR})


def _public(incident: Incident) -> dict[str, Any]:
    data = incident.model_dump()
    data["status_title"] = STATUS_TITLES.get(incident.status, incident.status)
    return data


def create_app(
    *,
    session_pool: SessionPool,
    settings: AdminSettings,
    clock: Callable[[], datetime],
    routers: list[APIRouter] | None = None,
) -> FastAPI:
    # The schema is served behind login below; no public docs pages (they would also pull scripts from a CDN).
    app = FastAPI(title="МЦУ: администрирование", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None)

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with session_pool() as session:
            yield session

    SessionDep = Annotated[AsyncSession, Depends(get_session)]

    async def current_user(request: Request, session: SessionDep) -> User:
        token = request.cookies.get(COOKIE)
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        user = await user_by_token(session, token=token, now=clock()) if token else None
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "Нужно войти в систему.", headers={"WWW-Authenticate": "Bearer"}
            )
        return user

    CurrentUser = Annotated[User, Depends(current_user)]

    async def visible_sectors(session: AsyncSession, user: User) -> list[str] | None:
        """None means every sector; a sector head sees only the sectors they head."""
        if user.role != Role.SECTOR_HEAD:
            return None
        rows = await session.exec(select(Sector.code).where(Sector.head_id == user.staff_id))
        return list(rows) if user.staff_id is not None else []

    @app.get("/healthz", tags=["service"])
    async def healthz(session: SessionDep) -> dict[str, str]:
        """Report that the server and its database answer."""
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return {"status": "ok"}

    auth = APIRouter(prefix="/api/auth", tags=["auth"])

    @auth.post("/login")
    async def login(body: LoginIn, response: Response, session: SessionDep) -> TokenOut:
        """Log in with a login and password; sets the session cookie and returns the token."""
        token = await log_in(session, login=body.login, password=body.password, now=clock())
        if token is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Неверный логин или пароль.")
        response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=settings.secure_cookie)
        return TokenOut(token=token)

    @auth.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    async def logout(request: Request, response: Response, session: SessionDep, _user: CurrentUser) -> None:
        """End the current session."""
        token = request.cookies.get(COOKIE)
        if token:
            await log_out(session, token=token)
        response.delete_cookie(COOKIE)

    @auth.get("/me")
    async def me(user: CurrentUser) -> MeOut:
        """Say who is logged in."""
        return MeOut(login=user.login, role=user.role)

    incidents = APIRouter(prefix="/api/incidents", tags=["incidents"])

    @incidents.get("")
    async def incidents_list(
        session: SessionDep,
        user: CurrentUser,
        status_: Annotated[str | None, Query(alias="status")] = None,
        sector: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> IncidentPage:
        """List incidents, newest first, with filters and pagination."""
        rows, total = await list_incidents(
            session,
            status=status_,
            sector_code=sector,
            sector_codes=await visible_sectors(session, user),
            limit=limit,
            offset=offset,
        )
        return IncidentPage(items=[IncidentPublic.model_validate(_public(r)) for r in rows], total=total)

    @incidents.get("/{incident_id}")
    async def incident_detail(incident_id: int, session: SessionDep, user: CurrentUser) -> IncidentDetail:
        """Show one incident with its messages, timeline and last answer."""
        try:
            view = await view_incident(session, incident_id, full=True)
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, error.message) from error
        allowed = await visible_sectors(session, user)
        if allowed is not None and view.incident.sector_code not in allowed:
            # The same answer as for a missing incident: other sectors' numbers are not disclosed.
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"Инцидент № {incident_id} не найден.")
        data = _public(view.incident)
        data.update(
            source_kind=view.source.kind,
            source_title=view.source.title,
            author_name=view.author.name if view.author else None,
            author_profile=view.author.profile_url if view.author else None,
            assignee=view.assignee.full_name if view.assignee else None,
            attachments=view.incident.attachments,
            messages=[m.model_dump() for m in view.messages],
            events=[e.model_dump() for e in view.events],
            last_reply=view.last_reply.model_dump() if view.last_reply else None,
        )
        return IncidentDetail.model_validate(data)

    def require_manager(user: User) -> None:
        if user.role not in MANAGERS:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "Менять это могут администратор, руководитель и куратор МЦУ."
            )

    def refused(error: DomainError) -> HTTPException:
        code = status.HTTP_404_NOT_FOUND if isinstance(error, NotFound) else status.HTTP_422_UNPROCESSABLE_CONTENT
        return HTTPException(code, error.message)

    deadlines_api = APIRouter(prefix="/api/deadlines", tags=["deadlines"])

    @deadlines_api.get("/policies")
    async def policies_list(session: SessionDep, _user: CurrentUser) -> list[PolicyOut]:
        """Deadline policies: per track (social, urgent, appeal), optionally per sector and source kind."""
        return [PolicyOut.model_validate(p.model_dump()) for p in await list_policies(session)]

    @deadlines_api.post("/policies", status_code=status.HTTP_201_CREATED)
    async def policy_create(body: PolicyIn, session: SessionDep, user: CurrentUser) -> PolicyOut:
        """Add a policy (the most specific one that fits an incident applies)."""
        require_manager(user)
        try:
            policy = await save_policy(session, DeadlinePolicy.model_validate(body.model_dump()))
        except DomainError as error:
            raise refused(error) from error
        return PolicyOut.model_validate(policy.model_dump())

    @deadlines_api.put("/policies/{policy_id}")
    async def policy_update(policy_id: int, body: PolicyIn, session: SessionDep, user: CurrentUser) -> PolicyOut:
        """Change a policy; running deadlines stay as they are, new ones follow it."""
        require_manager(user)
        policy = await session.get(DeadlinePolicy, policy_id)
        if policy is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Такой политики сроков нет.")
        policy.sqlmodel_update(body.model_dump())
        try:
            policy = await save_policy(session, policy)
        except DomainError as error:
            raise refused(error) from error
        return PolicyOut.model_validate(policy.model_dump())

    @deadlines_api.delete("/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def policy_delete(policy_id: int, session: SessionDep, user: CurrentUser) -> None:
        """Remove a specific policy (the main one of each track stays)."""
        require_manager(user)
        try:
            await delete_policy(session, policy_id)
        except DomainError as error:
            raise refused(error) from error

    @deadlines_api.get("/settings")
    async def settings_read(session: SessionDep, _user: CurrentUser) -> DeadlineSettings:
        """Working hours, reminder points and the time of the morning digest."""
        hours = await get_hours(session)
        points = ", ".join(p.label for p in await get_points(session))
        return DeadlineSettings(**hours.__dict__, reminder_points=points, digest_time=await get_digest_time(session))

    @deadlines_api.put("/settings")
    async def settings_write(body: DeadlineSettings, session: SessionDep, user: CurrentUser) -> DeadlineSettings:
        """Change working hours, reminder points or the digest time (checked before anything is kept)."""
        require_manager(user)
        hours = Hours(
            tz=body.tz, start=body.start, end=body.end, lunch_start=body.lunch_start, lunch_end=body.lunch_end
        )
        try:
            parse_points(body.reminder_points)  # everything is checked before anything is kept
            parse_digest_time(body.digest_time)
            calendar_of(hours)
            await set_hours(session, hours)
            await set_points(session, body.reminder_points)
            await set_digest_time(session, body.digest_time)
        except DomainError as error:
            raise refused(error) from error
        return await settings_read(session, user)

    calendar_api = APIRouter(prefix="/api/calendar", tags=["deadlines"])

    @calendar_api.get("/days")
    async def calendar_days(session: SessionDep, _user: CurrentUser) -> list[CalendarDayOut]:
        """Local decisions over the official calendar: days off, working days, shortened days."""
        return [CalendarDayOut.model_validate(d.model_dump()) for d in await list_days(session)]

    @calendar_api.put("/days/{day}")
    async def calendar_day_set(
        day: date, body: CalendarDayIn, session: SessionDep, user: CurrentUser
    ) -> CalendarDayOut:
        """Make a day off, a working day, or a working day with its own hours (a shortened pre-holiday day)."""
        require_manager(user)
        try:
            row = await set_day(session, day=day, working=body.working, start=body.start, end=body.end, note=body.note)
        except DomainError as error:
            raise refused(error) from error
        return CalendarDayOut.model_validate(row.model_dump())

    @calendar_api.delete("/days/{day}", status_code=status.HTTP_204_NO_CONTENT)
    async def calendar_day_remove(day: date, session: SessionDep, user: CurrentUser) -> None:
        """Return a day to the official calendar."""
        require_manager(user)
        await remove_day(session, day)

    @app.get("/api/openapi.json", tags=["service"])
    async def openapi(_user: CurrentUser) -> dict[str, Any]:
        """Describe this API (OpenAPI 3)."""
        return app.openapi()

    app.include_router(auth)
    app.include_router(incidents)
    app.include_router(deadlines_api)
    app.include_router(calendar_api)
    for router in routers or []:
        app.include_router(router)
    return app
