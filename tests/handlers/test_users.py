"""Admin logins: scrypt hashes, sessions, and refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput
from handlers.users import (
    LOCKOUT,
    create_user,
    hash_password,
    log_in,
    log_out,
    update_user,
    user_by_token,
    verify_password,
)
from tests.conftest import Clock


def test_hash_is_salted_and_verifies() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("correct horse", first)
    assert not verify_password("wrong horse", first)
    assert not verify_password("x", "garbage")


async def test_login_session_and_logout(session: AsyncSession, clock: Clock) -> None:
    await create_user(session, login="head", password="long enough pw", role="mcu_head")
    assert (await log_in(session, login="head", password="wrong password", now=clock())).token is None
    assert (await log_in(session, login="nobody", password="long enough pw", now=clock())).token is None
    result = await log_in(session, login="head", password="long enough pw", now=clock())
    token = result.token
    assert token is not None and len(result.csrf) >= 24
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


async def test_five_wrong_passwords_lock_the_login_for_a_while(session: AsyncSession, clock: Clock) -> None:
    await create_user(session, login="head", password="long enough pw", role="mcu_head")
    for _ in range(4):
        assert (await log_in(session, login="head", password="guess guess", now=clock())).locked_until is None
    locked = await log_in(session, login="head", password="guess guess", now=clock())
    assert locked.token is None and locked.locked_until == clock() + LOCKOUT
    # Even the right password waits out the lock.
    assert (await log_in(session, login="head", password="long enough pw", now=clock())).token is None
    clock.advance(minutes=16)
    assert (await log_in(session, login="head", password="long enough pw", now=clock())).token is not None


async def test_a_new_password_or_deactivation_ends_sessions(session: AsyncSession, clock: Clock) -> None:
    user = await create_user(session, login="head", password="long enough pw", role="mcu_head")
    token = (await log_in(session, login="head", password="long enough pw", now=clock())).token
    assert token is not None and user.id is not None
    await update_user(session, user_id=user.id, password="another long password")
    assert await user_by_token(session, token=token, now=clock()) is None
    token = (await log_in(session, login="head", password="another long password", now=clock())).token
    assert token is not None
    await update_user(session, user_id=user.id, active=False)
    assert await user_by_token(session, token=token, now=clock()) is None
    assert (await log_in(session, login="head", password="another long password", now=clock())).token is None
    with pytest.raises(InvalidInput):
        await update_user(session, user_id=user.id, role="king")
