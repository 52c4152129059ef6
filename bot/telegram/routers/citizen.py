"""Citizen messages: private chats with the bot and messages in monitored groups become incidents."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram import texts
from bot.telegram.filters import is_citizen, is_staff
from bot.telegram.parse import PLATFORM, citizen_message, direct_source
from bot.telegram.render import SurveyCb, rating_keyboard
from bot.telegram.routers.staff import staff_help
from handlers.incidents import citizen_rates, citizen_says_solved, edit_message, ingest_message

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


async def on_survey(query: CallbackQuery, callback_data: SurveyCb, session: AsyncSession, now: datetime) -> None:
    """The citizen answers the survey under the final answer: solved or not, then a rating."""
    number, answer = callback_data.incident_id, callback_data.answer
    citizen_id = str(query.from_user.id)
    message = query.message if isinstance(query.message, Message) else None
    if answer in ("yes", "no"):
        await citizen_says_solved(session, incident_id=number, citizen_id=citizen_id, solved=answer == "yes", now=now)
        if message is not None:
            if answer == "yes":
                await message.edit_text(texts.SURVEY_RATE, reply_markup=rating_keyboard(number))
            else:
                await message.edit_text(texts.SURVEY_UNSOLVED.format(number=number), reply_markup=None)
    elif answer.isdigit():
        await citizen_rates(session, incident_id=number, citizen_id=citizen_id, rating=int(answer), now=now)
        if message is not None:
            await message.edit_text(texts.SURVEY_THANKS, reply_markup=None)
    await query.answer()


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_survey, SurveyCb.filter())
    people = F.is_automatic_forward.is_not(True)
    router.message.register(on_message, people, is_citizen)
    router.edited_message.register(on_edit, people, is_citizen)
    # A staff member writing to the bot outside a dialogue gets the help, not an incident.
    router.message.register(staff_help, F.chat.type == "private", is_staff)
    return router
