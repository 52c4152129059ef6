"""Per-update context: a database session, the current time, and the staff record of the sender if linked."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import TelegramObject, Update, User
from aiogram.types.update import UpdateTypeLookupError

from handlers.directory import staff_by_telegram
from storage.db import SessionPool

log = logging.getLogger(__name__)


class ContextMiddleware(BaseMiddleware):
    def __init__(self, session_pool: SessionPool, clock: Callable[[], datetime], wakeup: Callable[[], None]) -> None:
        self.session_pool = session_pool
        self.clock = clock
        self.wakeup = wakeup

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Update) and _kind(event) == "unknown":
            # A newer Bot API than this aiogram knows: nothing to do, but say so instead of a warning.
            log.info("update %s of an unknown type ignored: %s", event.update_id, sorted(event.model_extra or {}))
            return UNHANDLED
        async with self.session_pool() as session:
            user: User | None = data.get("event_from_user")
            data["session"] = session
            data["now"] = self.clock()
            data["staff"] = await staff_by_telegram(session, user.id) if user is not None else None
            try:
                result = await handler(event, data)
            finally:
                # Whatever the handler queued in the outbox can go out now.
                self.wakeup()
        if result is UNHANDLED and isinstance(event, Update):
            log.info("update %s (%s) ignored: nothing handles it", event.update_id, _kind(event))
        return result


def _kind(update: Update) -> str:
    try:
        return update.event_type
    except UpdateTypeLookupError:
        return "unknown"
