"""The directory: the decree's seed, one-time staff invites, the staff chat and monitored chats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.directory import (
    create_invite,
    get_staff_chat,
    link_staff,
    list_sectors,
    list_staff,
    seed_directory,
    set_staff_chat,
    unwatch_chat,
    watch_chat,
)
from handlers.errors import InvalidInput, NotAllowed
from storage.models import AutoRule, Role, SourceKind, Staff
from tests.conftest import Clock

SECTORS = {
    "zhkh", "roads", "transport", "energy", "improvement", "health", "social",
    "education", "agriculture", "ecology", "waste", "property", "land", "other",
}  # fmt: skip


async def test_seed_follows_the_decree(session: AsyncSession) -> None:
    sectors = await list_sectors(session)
    assert {s.code for s in sectors} == SECTORS
    staff = {s.id: s for s in await list_staff(session)}
    assert len(staff) == 7
    heads = {s.code: staff[s.head_id].full_name.split()[0] for s in sectors if s.head_id}
    assert heads["roads"] == heads["zhkh"] == "Волкова"
    assert heads["health"] == heads["social"] == "Лобанова"
    assert heads["education"] == "Ерохина"
    assert heads["waste"] == heads["ecology"] == heads["agriculture"] == "Губина"
    assert heads["land"] == heads["property"] == "Сухоставец"
    roles = {s.full_name.split()[0]: set(s.roles) for s in staff.values()}
    assert Role.CURATOR in roles["Волкова"] and Role.MCU_HEAD in roles["Лобанова"] and Role.OFFICER in roles["Суркова"]
    rule_sectors = set(await session.exec(select(AutoRule.sector_code)))
    assert rule_sectors == SECTORS - {"other"}
    # A second start leaves an edited directory alone.
    assert await seed_directory(session) is False


async def test_invite_links_once(session: AsyncSession, clock: Clock) -> None:
    token = await create_invite(session, staff_id=3, now=clock())
    assert len(token) >= 30 and "=" not in token
    staff = await link_staff(session, token=token, telegram_id=900, username="surkova", now=clock())
    assert staff.id == 3 and staff.telegram_id == 900
    with pytest.raises(InvalidInput):
        await link_staff(session, token=token, telegram_id=901, username=None, now=clock())


async def test_expired_or_unknown_invite_is_refused(session: AsyncSession, clock: Clock) -> None:
    token = await create_invite(session, staff_id=3, now=clock())
    with pytest.raises(InvalidInput):
        await link_staff(session, token=token, telegram_id=900, username=None, now=clock() + timedelta(days=30))
    with pytest.raises(InvalidInput):
        await link_staff(session, token="made-up", telegram_id=900, username=None, now=clock())


async def test_one_telegram_account_is_one_person(session: AsyncSession, clock: Clock) -> None:
    await link_staff(session, token=await create_invite(session, staff_id=3, now=clock()), telegram_id=900,
                     username=None, now=clock())  # fmt: skip
    await link_staff(session, token=await create_invite(session, staff_id=4, now=clock()), telegram_id=900,
                     username=None, now=clock())  # fmt: skip
    linked = list(await session.exec(select(Staff).where(col(Staff.telegram_id).is_not(None))))
    assert [s.id for s in linked] == [4]


async def test_only_coordinators_register_chats(session: AsyncSession) -> None:
    head = await session.get(Staff, 5)
    officer = await session.get(Staff, 3)
    assert head is not None and officer is not None
    with pytest.raises(NotAllowed):
        await set_staff_chat(session, staff=head, chat_id=-1001)
    with pytest.raises(NotAllowed):
        await watch_chat(session, staff=head, chat_id=-1002, kind=SourceKind.TG_GROUP, title="x")
    await set_staff_chat(session, staff=officer, chat_id=-1001)
    assert await get_staff_chat(session) == -1001
    with pytest.raises(InvalidInput):
        await watch_chat(session, staff=officer, chat_id=-1001, kind=SourceKind.TG_GROUP, title="staff")
    result = await watch_chat(session, staff=officer, chat_id=-1002, kind=SourceKind.TG_GROUP, title="Тросна")
    assert result.created and result.source.active
    with pytest.raises(InvalidInput):
        await set_staff_chat(session, staff=officer, chat_id=-1002)
    await unwatch_chat(session, staff=officer, chat_id=-1002)
    count = await session.exec(select(func.count()).select_from(Staff))
    assert count.one() == 7
