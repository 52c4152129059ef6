"""Admin logins: scrypt hashes, sessions, and refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput
from handlers.users import create_user, hash_password, log_in, log_out, user_by_token, verify_password
from tests.conftest import Clock


def test_hash_is_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("correct horse", first)
    assert not verify_password("wrong horse", first)
    assert not verify_password("x", "garbage")


async def test_login_session_and_logout(session: AsyncSession, clock: Clock) -> None:
    await create_user(session, login="head", password="long enough pw", role="mcu_head")
    assert await log_in(session, login="head", password="wrong password", now=clock()) is None
    assert await log_in(session, login="nobody", password="long enough pw", now=clock()) is None
    token = await log_in(session, login="head", password="long enough pw", now=clock())
    assert token is not None
    user = await user_by_token(session, token=token, now=clock())
    assert user is not None and user.login == "head"
    assert await user_by_token(session, token=token, now=clock() + timedelta(days=1)) is None
    await log_out(session, token=token)
    assert await user_by_token(session, token=token, now=clock()) is None


async def test_bad_users_are_refused(session: AsyncSession) -> None:
    with pytest.raises(InvalidInput):
        await create_user(session, login="a", password="short", role="admin")
    with pytest.raises(InvalidInput):
        await create_user(session, login="a", password="long enough pw", role="king")
    await create_user(session, login="a", password="long enough pw", role="admin")
    with pytest.raises(InvalidInput):
        await create_user(session, login="a", password="long enough pw", role="admin")
