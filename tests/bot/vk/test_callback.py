"""The VK Callback API endpoint: confirmation, secret, bad input, and events stored before `ok` and processed once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.vk.callback import PATH, InboxProcessor, create_callback_router
from bot.vk.intake import NameCache, VkIntake
from handlers.sources import register_vk_source, store_inbox
from storage.db import SessionPool
from storage.models import Inbox, Incident, IncidentMessage, Outbox, SourceKind
from tests.bot.vk.events import GROUP, envelope, message_new, wall_reply
from tests.conftest import Clock

SECRET = "vk-secret"


@pytest.fixture
async def processor(session_pool: SessionPool, session: AsyncSession, clock: Clock) -> InboxProcessor:
    await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=GROUP, title="Администрация")
    intake = VkIntake(session_pool=session_pool, clock=clock, wakeup=lambda: None, names=NameCache(None))
    return InboxProcessor(session_pool=session_pool, intake=intake, clock=clock)


@pytest.fixture
async def client(
    session_pool: SessionPool, processor: InboxProcessor, clock: Clock
) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(
        create_callback_router(
            group_id=GROUP, confirmation="abc123", secret=SECRET, session_pool=session_pool, processor=processor,
            clock=clock,
        )
    )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def count(session: AsyncSession, model: type) -> int:
    session.expunge_all()
    return (await session.exec(select(func.count()).select_from(model))).one()


async def settle(processor: InboxProcessor) -> None:
    await asyncio.sleep(0)
    await processor.process_pending()


async def test_confirmation_and_refusals(client: httpx.AsyncClient) -> None:
    confirm = await client.post(PATH, json={"type": "confirmation", "group_id": GROUP})
    assert confirm.status_code == 200 and confirm.text == "abc123"
    other = await client.post(PATH, json={"type": "confirmation", "group_id": 1})
    assert other.status_code == 400 and other.text == "unknown group"
    assert (await client.post(PATH, content=b"{not json")).status_code == 400
    assert (await client.post(PATH, json=[1, 2])).status_code == 400
    event = wall_reply("Яма")
    assert (await client.post(PATH, json=event)).status_code == 403
    assert (await client.post(PATH, json={**event, "secret": "guess"})).status_code == 403
    assert (await client.post(PATH, content=b"{" + b" " * 1_100_000 + b"}")).status_code == 413


async def test_event_becomes_incident_once_even_when_vk_retries(
    client: httpx.AsyncClient, processor: InboxProcessor, session: AsyncSession
) -> None:
    event = {**wall_reply("Нет света на улице Мира [id5|соседи] подтвердят"), "secret": SECRET}
    for retry in range(3):
        response = await client.post(PATH, json=event, headers={"X-Retry-Counter": str(retry)})
        assert response.status_code == 200 and response.text == "ok"
    await settle(processor)
    assert await count(session, Inbox) == 1
    [incident] = list(await session.exec(select(Incident)))
    assert incident.sector_code == "energy" and incident.text == "Нет света на улице Мира соседи подтвердят"
    assert incident.permalink == f"https://vk.com/wall-{GROUP}_10?reply=55"
    stored = (await session.exec(select(Inbox))).one()
    assert stored.processed_at is not None and "secret" not in stored.payload


async def test_message_to_community_is_acknowledged_on_vk(
    client: httpx.AsyncClient, processor: InboxProcessor, session: AsyncSession
) -> None:
    await client.post(PATH, json={**message_new("Когда будет автобус до Орла?"), "secret": SECRET})
    await settle(processor)
    ack = (await session.exec(select(Outbox).where(Outbox.kind == "ack"))).one()
    assert ack.platform == "vk" and ack.chat_id == "peer1001"


async def test_edit_and_delete_follow_the_comment(
    client: httpx.AsyncClient, processor: InboxProcessor, session: AsyncSession
) -> None:
    await client.post(PATH, json={**wall_reply("Яма"), "secret": SECRET})
    edit = envelope("wall_reply_edit", {"id": 55, "owner_id": -GROUP, "text": "Яма на Ленина"})
    delete = envelope("wall_reply_delete", {"id": 55, "owner_id": -GROUP, "deleter_id": 1001, "post_id": 10})
    await client.post(PATH, json={**edit, "secret": SECRET})
    await client.post(PATH, json={**delete, "secret": SECRET})
    await settle(processor)
    [incident] = list(await session.exec(select(Incident)))
    [message] = list(await session.exec(select(IncidentMessage)))
    assert incident.text == "Яма на Ленина" and message.deleted_at is not None


async def test_unknown_types_are_taken_and_skipped(
    client: httpx.AsyncClient, processor: InboxProcessor, session: AsyncSession
) -> None:
    response = await client.post(PATH, json={**envelope("brand_new_event", {"x": 1}), "secret": SECRET})
    assert response.text == "ok"
    await settle(processor)
    assert await count(session, Incident) == 0
    assert (await session.exec(select(Inbox))).one().processed_at is not None


async def test_events_stored_before_a_crash_are_processed_later(
    processor: InboxProcessor, session: AsyncSession, clock: Clock
) -> None:
    # The endpoint stored the event and answered `ok`, then the process died before processing it.
    await store_inbox(session, platform="vk", event_id="lost-1", payload=wall_reply("Яма на дороге"), now=clock())
    assert await processor.process_pending() == 1
    assert await processor.process_pending() == 0
    assert await count(session, Incident) == 1
