"""Staff commands: linking by the deep link, the staff chat, and the monitored groups."""

from __future__ import annotations

from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram import texts
from bot.telegram.filters import is_staff
from bot.telegram.render import roles_title
from handlers.directory import link_staff, set_staff_chat, unwatch_chat, watch_chat
from handlers.vocab import SOURCE_KIND_TITLES
from storage.models import SourceKind, Staff


async def start_with_token(message: Message, command: CommandObject, session: AsyncSession, now: datetime) -> None:
    assert message.from_user is not None and command.args is not None
    staff = await link_staff(
        session, token=command.args, telegram_id=message.from_user.id, username=message.from_user.username, now=now
    )
    await message.answer(texts.LINKED.format(name=staff.full_name, roles=roles_title(staff)))


async def staff_help(message: Message, staff: Staff) -> None:
    await message.answer(texts.STAFF_HELP.format(name=staff.full_name, roles=roles_title(staff)))


async def citizen_start(message: Message) -> None:
    await message.answer(texts.CITIZEN_START)


async def staff_chat(message: Message, session: AsyncSession, staff: Staff | None) -> None:
    if staff is None:
        return
    if message.chat.type == "private":
        await message.answer(texts.COMMAND_ONLY_IN_GROUP)
        return
    await set_staff_chat(session, staff=staff, chat_id=message.chat.id)
    await message.answer(texts.STAFF_CHAT_SET)


async def watch(message: Message, command: CommandObject, session: AsyncSession, staff: Staff | None) -> None:
    if staff is None:
        # Citizens may not reconfigure the bot; silence tells them nothing about who may.
        return
    if message.chat.type == "private":
        await message.answer(texts.COMMAND_ONLY_IN_GROUP)
        return
    kind = SourceKind.TG_DISCUSSION if command.command == "watch_comments" else SourceKind.TG_GROUP
    result = await watch_chat(
        session,
        staff=staff,
        chat_id=message.chat.id,
        kind=kind,
        title=message.chat.title or "",
        username=message.chat.username,
    )
    await message.answer(texts.WATCH_ON.format(title=result.source.title, kind=SOURCE_KIND_TITLES[kind]))


async def unwatch(message: Message, session: AsyncSession, staff: Staff | None) -> None:
    if staff is None or message.chat.type == "private":
        return
    source = await unwatch_chat(session, staff=staff, chat_id=message.chat.id)
    await message.answer(texts.WATCH_OFF.format(title=source.title))


def create_router() -> Router:
    router = Router(name=__name__)
    private = F.chat.type == "private"
    router.message.register(start_with_token, CommandStart(deep_link=True), private)
    router.message.register(staff_help, CommandStart(), private, is_staff)
    router.message.register(staff_help, Command("help"), private, is_staff)
    router.message.register(citizen_start, CommandStart(), private)
    router.message.register(staff_chat, Command("staffchat"))
    router.message.register(watch, Command("watch", "watch_comments"))
    router.message.register(unwatch, Command("unwatch"))
    return router
