"""Checks the e2e harness (Bot API emulator + simulated users) with a throwaway aiogram echo bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramServerError
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from tests.e2e.emulator.harness import BotApiEmulator, Chat, User

ALICE = User(id=1001, first_name="Алиса", username="alice")
BORIS = User(id=1002, first_name="Борис", last_name="Петров")
GROUP = Chat.supergroup(-1001234567890, "Обсуждение новостей")
CHANNEL = Chat.channel(-1009876543210, "Новости района", username="district_news")


@dataclass
class Seen:
    """What the echo bot's handlers observed, for the tests to assert on."""

    chat_instances: list[str] = field(default_factory=list)
    group_updates: list[tuple[int, int]] = field(default_factory=list)


def build_echo_dispatcher(seen: Seen) -> Dispatcher:
    """A tiny bot: echoes private text, shows a button on /menu, answers replies in groups."""
    router = Router()

    @router.message(F.chat.type == "private", F.text == "/menu")
    async def menu(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Принять", callback_data="accept:42")]]
        )
        await message.answer("Заявка 42", reply_markup=keyboard)

    @router.message(F.chat.type == "private", F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    @router.callback_query(F.data.startswith("accept:"))
    async def accept(callback: CallbackQuery) -> None:
        seen.chat_instances.append(callback.chat_instance)
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(f"Принята заявка {callback.data}")
        await callback.answer("Готово")

    @router.message(F.chat.type.in_({"group", "supergroup"}), F.reply_to_message)
    async def group_reply(message: Message, event_update: Update) -> None:
        assert message.reply_to_message is not None and message.from_user is not None
        seen.group_updates.append((event_update.update_id, message.message_id))
        replied = message.reply_to_message
        await message.reply(
            f"{message.from_user.full_name} -> {replied.message_id}; "
            f"thread={message.message_thread_id}; auto={bool(replied.is_automatic_forward)}"
        )

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


def make_bot(emulator: BotApiEmulator) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.api_base))
    return Bot(token=emulator.token, session=session)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    # The context manager stops the node process even when the test fails.
    async with BotApiEmulator() as emu:
        yield emu


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
async def echo_bot(emulator: BotApiEmulator, seen: Seen) -> AsyncIterator[Bot]:
    bot = make_bot(emulator)
    dispatcher = build_echo_dispatcher(seen)
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        await _wait_until_polling(emulator, polling)
        yield bot
    finally:
        if not polling.done():
            with contextlib.suppress(RuntimeError):  # polling ended on its own meanwhile
                await dispatcher.stop_polling()
        try:
            await asyncio.wait_for(polling, timeout=10)
        except TimeoutError:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        await bot.session.close()


async def _wait_until_polling(emulator: BotApiEmulator, polling: asyncio.Task[Any]) -> None:
    # The first getUpdates means getMe was parsed and handlers are in place.
    for _ in range(200):
        if polling.done():
            polling.result()  # re-raise why polling stopped
            raise AssertionError("polling stopped before its first getUpdates")
        if await emulator.calls("getUpdates"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not start polling within 10 s")


async def test_private_message_gets_echo(emulator: BotApiEmulator, echo_bot: Bot) -> None:
    sent = await emulator.send_private(ALICE, "Во дворе не убран снег")

    reply = await emulator.wait_for_bot_message(ALICE.id, text="echo: Во дворе не убран снег")

    assert sent["chat"] == {"id": ALICE.id, "type": "private", "username": "alice", "first_name": "Алиса"}
    assert reply["chat"]["type"] == "private"
    assert reply["from"]["is_bot"] is True
    assert reply["from"]["id"] == echo_bot.id


async def test_button_press_reaches_callback_handler_and_edit_is_visible(
    emulator: BotApiEmulator, echo_bot: Bot, seen: Seen
) -> None:
    await emulator.send_private(ALICE, "/menu")
    menu = await emulator.wait_for_bot_message(ALICE.id, text="Заявка 42")

    await emulator.press_button(ALICE, Chat.private(ALICE), menu, "accept:42")

    edited = await emulator.wait_for_bot_message(ALICE.id, text="Принята заявка accept:42")
    assert edited["message_id"] == menu["message_id"]
    assert "edit_date" in edited
    # Like Telegram, editing the text without reply_markup removed the keyboard.
    assert "reply_markup" not in edited
    assert [old["text"] for old in edited["x_emulator"]["edit_history"]] == ["Заявка 42"]
    assert len(seen.chat_instances) == 1 and seen.chat_instances[0]
    answers = await emulator.calls("answerCallbackQuery")
    assert [call["params"].get("text") for call in answers] == ["Готово"]


async def test_group_chat_with_several_users_and_replies(emulator: BotApiEmulator, echo_bot: Bot) -> None:
    question = await emulator.send_group(GROUP, ALICE, "Когда починят лифт?")
    await emulator.send_group(GROUP, BORIS, "Мы тоже ждём", reply_to=question)

    answer = await emulator.wait_for_bot_message(GROUP.id, contains="Борис Петров ->")

    assert question["chat"]["id"] < 0 and question["chat"]["type"] == "supergroup"
    assert answer["text"] == f"Борис Петров -> {question['message_id']}; thread=None; auto=False"
    assert answer["chat"] == GROUP.to_api()
    assert answer["reply_to_message"]["from"]["id"] == BORIS.id
    # Telegram does not nest replies: the replied-to message carries no reply of its own.
    assert "reply_to_message" not in answer["reply_to_message"]


async def test_injected_comment_update_reaches_bot_and_duplicate_is_delivered(
    emulator: BotApiEmulator, echo_bot: Bot, seen: Seen
) -> None:
    post = await emulator.forward_channel_post(GROUP, CHANNEL, "Плановое отключение воды")
    comment = emulator.build_message(GROUP, ALICE, "А на Ленина тоже?", reply_to=post)

    queued = await emulator.inject_update({"message": comment})
    await emulator.inject_update(queued)  # Telegram redelivering the same update

    replies = await _eventually_two_replies(emulator)
    message_id = queued["message"]["message_id"]
    assert seen.group_updates == [(queued["update_id"], message_id)] * 2
    assert [m["text"] for m in replies] == [
        f"Алиса -> {post['message_id']}; thread={post['message_id']}; auto=True"
    ] * 2
    assert all(m["reply_to_message"]["message_id"] == message_id for m in replies)


async def _eventually_two_replies(emulator: BotApiEmulator) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []
    for _ in range(100):
        replies = [m for m in await emulator.bot_messages(GROUP.id) if m.get("reply_to_message")]
        if len(replies) >= 2:
            break
        await asyncio.sleep(0.05)
    return replies


async def test_idle_polling_does_not_busy_loop(emulator: BotApiEmulator, echo_bot: Bot) -> None:
    before = len(await emulator.calls("getUpdates"))
    await asyncio.sleep(2)
    during_idle = len(await emulator.calls("getUpdates")) - before

    # The emulator answers an empty getUpdates at once; the launcher holds it up to 1 s instead.
    assert 1 <= during_idle < 30


async def test_get_me_and_unsupported_method_without_polling(emulator: BotApiEmulator) -> None:
    bot = make_bot(emulator)
    try:
        me = await bot.get_me()
        with pytest.raises(TelegramServerError, match="not supported by the e2e emulator"):
            await bot.send_photo(ALICE.id, photo="https://example.invalid/p.jpg")
    finally:
        await bot.session.close()

    assert me.is_bot is True and me.id == bot.id
    assert [call["method"] for call in await emulator.unsupported_calls()] == ["sendPhoto"]
