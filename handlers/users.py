"""Logins of the web admin: scrypt password hashes and server-side sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput, NotFound
from storage.models import Role, Staff, User, UserSession

SESSION_TTL = timedelta(hours=12)
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(base64.b64decode(digest)),
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


# Spent on unknown logins too, so that timing does not tell which logins exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


async def create_user(
    session: AsyncSession, *, login: str, password: str, role: str, staff_id: int | None = None
) -> User:
    login = login.strip()
    if not login:
        raise InvalidInput("Логин не может быть пустым.")
    _check_role(role)
    _check_password(password)
    if (await session.exec(select(User).where(User.login == login))).first() is not None:
        raise InvalidInput(f"Пользователь «{login}» уже есть.")
    if staff_id is not None and await session.get(Staff, staff_id) is None:
        raise InvalidInput("Такого сотрудника нет в справочнике.")
    user = User(login=login, password_hash=hash_password(password), role=role, staff_id=staff_id)
    session.add(user)
    await session.commit()
    return user


def _check_role(role: str) -> None:
    if role not in set(Role):
        raise InvalidInput(f"Неизвестная роль «{role}». Возможные: {', '.join(Role)}.")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Пароль слишком короткий: нужно не меньше {MIN_PASSWORD} символов.")


@dataclass(frozen=True)
class LoginResult:
    """A session token and its CSRF token; or, when refused, nothing (and until when the login is locked)."""

    token: str | None = None
    csrf: str = ""
    locked_until: datetime | None = None


async def log_in(session: AsyncSession, *, login: str, password: str, now: datetime) -> LoginResult:
    """A new session for a right login and password. After MAX_FAILURES wrong passwords in a row the login is
    locked for LOCKOUT, even for the right password, so that guessing is slow."""
    user = (await session.exec(select(User).where(User.login == login.strip()))).first()
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        return LoginResult()
    if user.locked_until is not None and user.locked_until > now:
        verify_password(password, _DUMMY_HASH)
        return LoginResult(locked_until=user.locked_until)
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.failed_logins, user.locked_until = 0, now + LOCKOUT
        session.add(user)
        await session.commit()
        return LoginResult(locked_until=user.locked_until if user.locked_until and user.locked_until > now else None)
    assert user.id is not None
    user.failed_logins, user.locked_until = 0, None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    session.add(user)
    session.add(
        UserSession(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=now + SESSION_TTL, csrf=csrf)
    )
    await session.commit()
    return LoginResult(token=token, csrf=csrf)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authenticate(session: AsyncSession, *, token: str, now: datetime) -> tuple[User, UserSession] | None:
    """The user and their session for a live session token."""
    record = await session.get(UserSession, _digest(token))
    if record is None or record.expires_at <= now:
        return None
    user = await session.get(User, record.user_id)
    return (user, record) if user is not None and user.active else None


async def user_by_token(session: AsyncSession, *, token: str, now: datetime) -> User | None:
    found = await authenticate(session, token=token, now=now)
    return found[0] if found else None


async def log_out(session: AsyncSession, *, token: str) -> None:
    record = await session.get(UserSession, _digest(token))
    if record is not None:
        await session.delete(record)
        await session.commit()


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.exec(select(User).order_by(col(User.login))))


async def update_user(
    session: AsyncSession,
    *,
    user_id: int,
    role: str | None = None,
    staff_id: int | None = None,
    active: bool | None = None,
    password: str | None = None,
    unlink_staff: bool = False,
) -> User:
    """Change a login's role, staff link, state or password; a deactivated or re-passworded login is logged out."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("Такого пользователя нет.")
    if role is not None:
        _check_role(role)
        user.role = role
    if staff_id is not None:
        if await session.get(Staff, staff_id) is None:
            raise InvalidInput("Такого сотрудника нет в справочнике.")
        user.staff_id = staff_id
    elif unlink_staff:
        user.staff_id = None
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
        user.failed_logins, user.locked_until = 0, None
    if active is not None:
        user.active = active
    if password is not None or active is False:
        for record in await session.exec(select(UserSession).where(UserSession.user_id == user_id)):
            await session.delete(record)
    session.add(user)
    await session.commit()
    return user
