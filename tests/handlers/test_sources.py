"""Sources at work: VK registration, keyword filter, read positions, the inbox, stopping on fatal errors."""

from __future__ import annotations

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.directory import set_staff_chat
from handlers.errors import InvalidInput
from handlers.sources import (
    active_sources,
    get_cursor,
    mentions_keywords,
    pending_inbox,
    register_vk_source,
    set_cursor,
    settle_inbox,
    store_inbox,
    suspend_source,
)
from storage.models import Outbox, SourceKind
from tests.conftest import Clock


async def test_vk_sources_have_sensible_defaults(session: AsyncSession) -> None:
    community = await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=777)
    page = await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=42)
    public = await register_vk_source(session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=-555, keywords="тросн")
    assert community.ack and community.can_reply
    assert not page.ack and page.can_reply
    assert not public.ack and not public.can_reply
    with pytest.raises(InvalidInput):
        await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=-777)
    with pytest.raises(InvalidInput):
        await register_vk_source(session, kind=SourceKind.TG_GROUP, owner_id=1)


async def test_keywords_match_any_case_form(session: AsyncSession) -> None:
    public = await register_vk_source(
        session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=-555, keywords="тросн\nжерновц"
    )
    assert mentions_keywords(public, "В Тросне опять нет воды")
    assert mentions_keywords(public, "ЖЕРНОВЦЕ не убирают снег")
    assert not mentions_keywords(public, "В Орле пробки")
    everything = await register_vk_source(session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=-556)
    assert mentions_keywords(everything, "что угодно")


async def test_cursor_round_trip(session: AsyncSession, clock: Clock) -> None:
    source = await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=777)
    assert await get_cursor(session, source_id=source.id or 0, key="longpoll_ts") is None
    await set_cursor(session, source_id=source.id or 0, key="longpoll_ts", value="10", now=clock())
    await set_cursor(session, source_id=source.id or 0, key="longpoll_ts", value="11", now=clock())
    assert await get_cursor(session, source_id=source.id or 0, key="longpoll_ts") == "11"


async def test_fatal_error_stops_one_source_and_tells_staff_once(session: AsyncSession, clock: Clock) -> None:
    await set_staff_chat(session, staff=None, chat_id=-100500)
    page = await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=42)
    public = await register_vk_source(session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=-555)
    for _ in range(2):
        await suspend_source(session, source_id=page.id or 0, error="[5] User authorization failed", now=clock())
    polled = await active_sources(session, kinds=(SourceKind.VK_USER_PAGE, SourceKind.VK_WATCHED_PUBLIC))
    assert [s.id for s in polled] == [public.id]
    notices = list(await session.exec(select(Outbox).where(Outbox.kind == outbox.SOURCE_FAILED)))
    assert [(n.chat_id, n.payload) for n in notices] == [("-100500", {"source_id": page.id})]
    # Registering it again (a new token) starts it again.
    await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=42)
    assert len(await active_sources(session, kinds=(SourceKind.VK_USER_PAGE,))) == 1


async def test_inbox_keeps_each_event_once_until_processed(session: AsyncSession, clock: Clock) -> None:
    assert await store_inbox(session, platform="vk", event_id="e1", payload={"a": 1}, now=clock())
    assert not await store_inbox(session, platform="vk", event_id="e1", payload={"a": 1}, now=clock())
    [item] = await pending_inbox(session, platform="vk")
    await settle_inbox(session, inbox_id=item.id or 0, now=clock(), error="boom")
    assert len(await pending_inbox(session, platform="vk")) == 1
    await settle_inbox(session, inbox_id=item.id or 0, now=clock())
    assert await pending_inbox(session, platform="vk") == []
