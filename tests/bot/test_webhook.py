"""The Telegram webhook: the secret token is required, malformed bodies do no harm, updates are taken."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from aiogram import Dispatcher
from fastapi import FastAPI
from sqlmodel import select

from bot.app import create_dispatcher
from bot.telegram.settings import TelegramSettings
from bot.telegram.webhook import PATH, create_webhook_router
from storage.db import SessionPool
from storage.models import Incident
from tests.bot.mocked import make_bot
from tests.conftest import Clock

SECRET = "s3cret-token"
UPDATE = {
    "update_id": 10,
    "message": {
        "message_id": 1,
        "date": 1764000000,
        "chat": {"id": 501, "type": "private", "first_name": "Иван"},
        "from": {"id": 501, "is_bot": False, "first_name": "Иван"},
        "text": "Нет света третий день",
    },
}


@pytest.fixture
async def client(session_pool: SessionPool, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    bot, _api = make_bot()
    app = FastAPI()
    dispatcher = create_dispatcher(session_pool=session_pool, clock=clock, wakeup=lambda: None)
    app.include_router(create_webhook_router(bot=bot, dispatcher=dispatcher, secret=SECRET))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_wrong_or_missing_secret_is_forbidden(client: httpx.AsyncClient) -> None:
    assert (await client.post(PATH, json=UPDATE)).status_code == 403
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
    assert (await client.post(PATH, json=UPDATE, headers=wrong)).status_code == 403


async def test_update_is_taken_once_and_garbage_is_harmless(
    client: httpx.AsyncClient, session_pool: SessionPool
) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for _ in range(2):
        assert (await client.post(PATH, json=UPDATE, headers=headers)).status_code == 200
    for body in (b"not json", b'{"update_id": "x"}', b"[]"):
        response = await client.post(PATH, content=body, headers={**headers, "content-type": "application/json"})
        assert response.status_code == 200
    big = b"{" + b" " * 2_000_000 + b"}"
    assert (await client.post(PATH, content=big, headers=headers)).status_code == 413
    async with session_pool() as session:
        incidents = list(await session.exec(select(Incident)))
    assert len(incidents) == 1 and incidents[0].sector_code == "energy"


def test_empty_secret_is_never_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "  ")
    assert TelegramSettings(_env_file=None).secret is None
    bot, _api = make_bot()
    with pytest.raises(ValueError):
        create_webhook_router(bot=bot, dispatcher=Dispatcher(), secret="")
