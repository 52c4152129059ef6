"""Turns domain errors into polite answers and logs everything else without stopping the bot."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from bot.telegram import texts
from handlers.errors import DomainError

log = logging.getLogger(__name__)


async def on_domain_error(event: ErrorEvent) -> None:
    assert isinstance(event.exception, DomainError)
    await _tell(event, event.exception.message)


async def on_any_error(event: ErrorEvent) -> None:
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    await _tell(event, texts.UNKNOWN_ERROR)


async def _tell(event: ErrorEvent, text: str) -> None:
    update = event.update
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None and update.message.chat.type == "private":
            await update.message.answer(text)
    except Exception:
        log.warning("could not tell the user about an error in update %s", update.update_id, exc_info=True)


def create_router() -> Router:
    router = Router(name=__name__)
    router.error.register(on_domain_error, ExceptionTypeFilter(DomainError), F.update)
    router.error.register(on_any_error)
    return router
