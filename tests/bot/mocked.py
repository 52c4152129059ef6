"""A Bot API session mocked at the HTTP boundary: records every method call and answers like Telegram."""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import EditMessageText, GetMe, SendMessage, TelegramMethod
from aiogram.types import Chat, Message, User

BOT_TOKEN = "42:TEST-TOKEN"

Failure = Callable[[TelegramMethod[Any]], Exception]


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[TelegramMethod[Any]] = []
        self.failures: list[tuple[Callable[[TelegramMethod[Any]], bool], Failure]] = []
        self._ids = itertools.count(100)

    def fail_next(self, failure: Failure, when: Callable[[TelegramMethod[Any]], bool] = lambda _m: True) -> None:
        """Make the next call that `when` picks fail with `failure`."""
        self.failures.append((when, failure))

    def sent(self, kind: type[TelegramMethod[Any]] = SendMessage) -> list[Any]:
        return [r for r in self.requests if isinstance(r, kind)]

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        self.requests.append(method)
        for number, (when, failure) in enumerate(self.failures):
            if when(method):
                del self.failures[number]
                raise failure(method)
        me = User(id=bot.id, is_bot=True, first_name="МЦУ", username="mcu_test_bot")
        if isinstance(method, GetMe):
            return me
        if isinstance(method, SendMessage | EditMessageText):
            chat_id = int(method.chat_id or 0)
            return Message(
                message_id=(method.message_id or 0) if isinstance(method, EditMessageText) else next(self._ids),
                date=datetime.now(UTC),
                chat=Chat(id=chat_id, type="private" if chat_id > 0 else "supergroup"),
                from_user=me,
                text=method.text,
            )
        return True

    async def close(self) -> None:
        return None

    def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30, chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:  # fmt: skip
        raise NotImplementedError


def make_bot() -> tuple[Bot, RecordingSession]:
    session = RecordingSession()
    return Bot(BOT_TOKEN, session=session), session
