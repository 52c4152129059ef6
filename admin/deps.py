"""What every admin endpoint needs: a database session, the logged-in user, their role, CSRF on changes."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

import hmac
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.settings import AdminSettings
from handlers.errors import DomainError, IllegalTransition, NotAllowed, NotFound
from handlers.users import authenticate
from storage.db import SessionPool
from storage.models import Role, Sector, Staff, User

COOKIE = "mcu_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Who may change how the МЦУ works (deadlines, calendar, directory); everyone logged in may read it.
MANAGERS = frozenset({Role.ADMIN, Role.MCU_HEAD, Role.CURATOR})
# Who sees every sector's incidents (a sector head sees only their own).
ALL_SECTORS = frozenset({Role.ADMIN, Role.MCU_HEAD, Role.CURATOR, Role.OFFICER, Role.POS_OFFICER})


def session_pool(request: Request) -> SessionPool:
    pool: SessionPool = request.app.state.session_pool
    return pool


def clock(request: Request) -> Callable[[], datetime]:
    now: Callable[[], datetime] = request.app.state.clock
    return now


def settings(request: Request) -> AdminSettings:
    found: AdminSettings = request.app.state.settings
    return found


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with session_pool(request)() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def now(request: Request) -> datetime:
    return clock(request)()


Now = Annotated[datetime, Depends(now)]


async def current_user(request: Request, session: SessionDep) -> User:
    """The user of a bearer token (API clients) or of the session cookie (the pages). A change made with the
    cookie must carry the session's CSRF token, in the X-CSRF-Token header or the csrf_token form field."""
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = bearer or request.cookies.get(COOKIE)
    found = await authenticate(session, token=token, now=clock(request)()) if token else None
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Нужно войти в систему.", headers={"WWW-Authenticate": "Bearer"}
        )
    user, record = found
    if bearer is None and request.method in UNSAFE:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            field = (await request.form()).get(CSRF_FIELD)
            sent = field if isinstance(field, str) else None
        if not sent or not hmac.compare_digest(sent, record.csrf):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Страница устарела: обновите её и повторите действие.")
    request.state.user, request.state.csrf = user, record.csrf
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: str) -> Callable[[User], User]:
    """A dependency that lets only these roles through."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Это доступно не для вашей роли.")
        return user

    return check


Manager = Annotated[User, Depends(require(*MANAGERS))]
Admin = Annotated[User, Depends(require(Role.ADMIN))]


async def visible_sectors(session: AsyncSession, user: User) -> list[str] | None:
    """None means every sector; a sector head sees only the sectors they head."""
    if user.role in ALL_SECTORS:
        return None
    if user.staff_id is None:
        return []
    return list(await session.exec(select(Sector.code).where(Sector.head_id == user.staff_id)))


async def staff_of(session: AsyncSession, user: User) -> Staff:
    """The staff member a login acts as: incident actions are done by people of the directory."""
    staff = await session.get(Staff, user.staff_id) if user.staff_id is not None else None
    if staff is None or not staff.active:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Ваш вход не связан с сотрудником из справочника: действовать по инцидентам нельзя. "
            "Попросите администратора указать сотрудника.",
        )
    return staff


def refused(error: DomainError) -> HTTPException:
    """A refusal of the domain as an HTTP answer with its Russian sentence."""
    if isinstance(error, NotFound):
        code = status.HTTP_404_NOT_FOUND
    elif isinstance(error, NotAllowed):
        code = status.HTTP_403_FORBIDDEN
    elif isinstance(error, IllegalTransition):
        code = status.HTTP_409_CONFLICT
    else:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
    return HTTPException(code, error.message)
