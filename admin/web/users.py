"""Pages: logins of the admin and the audit trail (the administrator only)."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from admin.api import users as api
from admin.deps import CurrentUser, Now, SessionDep
from admin.web.common import render
from admin.web.directory import attempt, back, refuse_page
from handlers import audit
from handlers.directory import list_staff
from handlers.users import list_users
from handlers.vocab import ROLE_TITLES
from storage.models import Role, User

router = APIRouter(include_in_schema=False)

AUDIT_PAGE = 50
DONE = {
    "created": "Пользователь создан.",
    "saved": "Пользователь сохранён.",
    "state": "Состояние входа изменено.",
    "password": "Пароль изменён; прежние входы этого пользователя закрыты.",
}


async def _page(
    request: Request, session: SessionDep, *, error: str = "", done: str = "", status_code: int = 200, **extra: Any
) -> Response:
    staff = await list_staff(session)
    return render(
        request,
        "users.html",
        status_code=status_code,
        title="Пользователи",
        error=error,
        notice=DONE.get(done, ""),
        users=await list_users(session),
        staff=staff,
        staff_names={s.id: s.full_name for s in staff},
        roles=list(Role),
        role_titles=ROLE_TITLES,
        **extra,
    )


async def _finish(request: Request, session: SessionDep, result: object, done: str, **extra: Any) -> Response:
    if isinstance(result, str):
        return await _page(request, session, error=result, status_code=422, **extra)
    return back("/users", done)


def _admin(user: User) -> bool:
    return user.role == Role.ADMIN


@router.get("/users")
async def users_page(request: Request, session: SessionDep, user: CurrentUser, done: str = "") -> Response:
    if not _admin(user):
        return refuse_page(request, "users.html", "Пользователи")
    return await _page(request, session, done=done)


@router.post("/users")
async def user_add(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    staff_id: Annotated[str, Form()] = "",
) -> Response:
    if not _admin(user):
        return refuse_page(request, "users.html", "Пользователи")
    body = api.UserCreate(login=login, password=password, role=role, staff_id=int(staff_id) if staff_id else None)
    result = await attempt(session, user, api.user_create(body, session, user, now))
    form = {"login": login, "role": role, "staff_id": body.staff_id}
    return await _finish(request, session, result, "created", new_user=form)


@router.post("/users/{user_id}")
async def user_save(
    request: Request,
    user_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    role: Annotated[str, Form()] = "",
    staff_id: Annotated[str, Form()] = "",
) -> Response:
    """Role and staff link; an empty staff choice removes the link."""
    if not _admin(user):
        return refuse_page(request, "users.html", "Пользователи")
    body = api.UserUpdate(
        role=role or None, staff_id=int(staff_id) if staff_id else None, unlink_staff=not staff_id.strip()
    )
    result = await attempt(session, user, api.user_update(user_id, body, session, user, now))
    return await _finish(request, session, result, "saved")


@router.post("/users/{user_id}/active")
async def user_active(
    request: Request,
    user_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    active: Annotated[bool, Form()] = False,
) -> Response:
    if not _admin(user):
        return refuse_page(request, "users.html", "Пользователи")
    result = await attempt(session, user, api.user_update(user_id, api.UserUpdate(active=active), session, user, now))
    return await _finish(request, session, result, "state")


@router.post("/users/{user_id}/password")
async def user_password(
    request: Request,
    user_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    password: Annotated[str, Form()] = "",
) -> Response:
    if not _admin(user):
        return refuse_page(request, "users.html", "Пользователи")
    result = await attempt(
        session, user, api.user_update(user_id, api.UserUpdate(password=password), session, user, now)
    )
    return await _finish(request, session, result, "password")


@router.get("/audit")
async def audit_page(
    request: Request, session: SessionDep, user: CurrentUser, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    if not _admin(user):
        return refuse_page(request, "audit.html", "Журнал")
    rows = await audit.entries(session, limit=AUDIT_PAGE + 1, offset=(page - 1) * AUDIT_PAGE)
    return render(
        request,
        "audit.html",
        title="Журнал",
        entries=rows[:AUDIT_PAGE],
        page=page,
        has_next=len(rows) > AUDIT_PAGE,
    )
