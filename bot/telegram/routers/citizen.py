"""Citizen messages: private chats with the bot and messages in monitored groups become incidents."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import Message
from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram.filters import is_citizen, is_staff
from bot.telegram.parse import PLATFORM, citizen_message, direct_source
from bot.telegram.routers.staff import staff_help
from handlers.incidents import edit_message, ingest_message

log = logging.getLogger(__name__)

INGEST_ATTEMPTS = 5


async def on_message(message: Message, bot: Bot, session: AsyncSession, now: datetime) -> None:
    citizen = citizen_message(message, bot_id=bot.id)
    if citizen is None:
        return
    for attempt in range(INGEST_ATTEMPTS):
        try:
            result = await ingest_message(session, message=citizen, now=now)
            break
        except OperationalError:
            # A locked or briefly unavailable database: the update is not confirmed again, so wait and retry.
            await session.rollback()
            if attempt == INGEST_ATTEMPTS - 1:
                raise
            log.warning("message %s not stored yet (database busy), retry %s", citizen.external_id, attempt + 1)
            await asyncio.sleep(0.5 * 2**attempt)
    if result.duplicate:
        log.info(
            "message %s delivered again: already incident %s",
            citizen.external_id,
            result.incident and result.incident.id,
        )


async def on_edit(message: Message, bot: Bot, session: AsyncSession, now: datetime) -> None:
    source_id = direct_source(bot.id).external_id if message.chat.type == "private" else str(message.chat.id)
    await edit_message(
        session,
        platform=PLATFORM,
        platform_source_id=source_id,
        external_id=f"{message.chat.id}:{message.message_id}",
        text=message.text or message.caption or "",
        now=now,
    )


def create_router() -> Router:
    router = Router(name=__name__)
    people = F.is_automatic_forward.is_not(True)
    router.message.register(on_message, people, is_citizen)
    router.edited_message.register(on_edit, people, is_citizen)
    # A staff member writing to the bot outside a dialogue gets the help, not an incident.
    router.message.register(staff_help, F.chat.type == "private", is_staff)
    return router
