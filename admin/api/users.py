"""Logins of the admin and the audit trail over the API: for the administrator only."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from admin.deps import Admin, Now, SessionDep, refused
from handlers import audit
from handlers.errors import DomainError
from handlers.users import create_user, list_users, update_user
from storage.models import Role, User

# Full paths: the audit trail (/api/audit) lives beside the users (/api/users) in one router.
router = APIRouter(tags=["users"])


class UserCreate(BaseModel):
    login: str
    password: str
    role: str
    staff_id: int | None = None


class UserUpdate(BaseModel):
    """Only what is given changes; `staff_id: null` with `unlink_staff` removes the link to a staff member."""

    role: str | None = None
    staff_id: int | None = None
    unlink_staff: bool = False
    active: bool | None = None
    password: str | None = None


class UserPublic(BaseModel):
    id: int
    login: str
    role: str
    staff_id: int | None
    active: bool
    created_at: datetime
    locked_until: datetime | None


class AuditOut(BaseModel):
    id: int
    at: datetime
    login: str
    action: str
    target: str
    data: dict[str, Any]


def _public(user: User) -> UserPublic:
    return UserPublic.model_validate(user.model_dump())


def _self_check(me: User, user_id: int, body: UserUpdate) -> None:
    """An administrator cannot lock themselves out: no own deactivation or loss of the admin role."""
    if me.id == user_id and (body.active is False or (body.role is not None and body.role != Role.ADMIN)):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "Нельзя отключить свой вход или снять с себя роль администратора."
        )


@router.get("/api/users")
async def users_list(session: SessionDep, _user: Admin) -> list[UserPublic]:
    """Every login of the admin, by login."""
    return [_public(u) for u in await list_users(session)]


@router.post("/api/users", status_code=status.HTTP_201_CREATED)
async def user_create(body: UserCreate, session: SessionDep, user: Admin, now: Now) -> UserPublic:
    """Create a login (the password is at least 10 characters; it is never kept in the audit trail)."""
    data = body.model_dump(exclude={"password"})
    audit.note(session, user=user, action="user_created", target=f"user:{body.login.strip()}", now=now, **data)
    try:
        created = await create_user(
            session, login=body.login, password=body.password, role=body.role, staff_id=body.staff_id
        )
    except DomainError as error:
        raise refused(error) from error
    return _public(created)


@router.patch("/api/users/{user_id}")
async def user_update(user_id: int, body: UserUpdate, session: SessionDep, user: Admin, now: Now) -> UserPublic:
    """Change a login's role, staff link or state, or set a new password (its sessions end)."""
    _self_check(user, user_id, body)
    data = body.model_dump(exclude={"password"}, exclude_defaults=True)
    if body.password is not None:
        data["password_reset"] = True
    audit.note(session, user=user, action="user_changed", target=f"user:{user_id}", now=now, **data)
    try:
        changed = await update_user(
            session,
            user_id=user_id,
            role=body.role,
            staff_id=body.staff_id,
            unlink_staff=body.unlink_staff,
            active=body.active,
            password=body.password,
        )
    except DomainError as error:
        raise refused(error) from error
    return _public(changed)


@router.get("/api/audit", tags=["audit"])
async def audit_list(
    session: SessionDep,
    _user: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[AuditOut]:
    """The audit trail, newest first: who changed what in the admin, and when."""
    return [AuditOut.model_validate(e.model_dump()) for e in await audit.entries(session, limit=limit, offset=offset)]
