"""Logins of the web admin: scrypt password hashes and server-side sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput
from storage.models import Role, User, UserSession

SESSION_TTL = timedelta(hours=12)
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


async def create_user(session: AsyncSession, *, login: str, password: str, role: str) -> User:
    login = login.strip()
    if not login:
        raise InvalidInput("Логин не может быть пустым.")
    if role not in set(Role):
        raise InvalidInput(f"Неизвестная роль «{role}». Возможные: {', '.join(Role)}.")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Пароль слишком короткий: нужно не меньше {MIN_PASSWORD} символов.")
    if (await session.exec(select(User).where(User.login == login))).first() is not None:
        raise InvalidInput(f"Пользователь «{login}» уже есть.")
    user = User(login=login, password_hash=hash_password(password), role=role)
    session.add(user)
    await session.commit()
    return user


async def log_in(session: AsyncSession, *, login: str, password: str, now: datetime) -> str | None:
    """A new session token for a right login and password, else None."""
    user = (await session.exec(select(User).where(User.login == login))).first()
    if user is None or not user.active:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, user.password_hash):
        return None
    assert user.id is not None
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=now + SESSION_TTL))
    await session.commit()
    return token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def user_by_token(session: AsyncSession, *, token: str, now: datetime) -> User | None:
    record = await session.get(UserSession, _digest(token))
    if record is None or record.expires_at <= now:
        return None
    user = await session.get(User, record.user_id)
    return user if user is not None and user.active else None


async def log_out(session: AsyncSession, *, token: str) -> None:
    record = await session.get(UserSession, _digest(token))
    if record is not None:
        await session.delete(record)
        await session.commit()
