"""End-to-end: the real `mcu run` process and simulated citizens and staff in the Telegram emulator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from html import escape
from typing import Any, Final

import pytest
import pytest_asyncio

from bot.telegram import texts
from tests.e2e.conftest import BOT_USERNAME, AdminApi, McuProcess
from tests.e2e.emulator.harness import BotApiEmulator, Chat, Message, User

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Generous for a loaded 2-core machine. The product sends at most ~20 messages a minute to a group (Telegram's
# limit), so after a burst the staff chat's cards and edits come seconds apart; private chats answer at once.
WAIT_S: Final = 30.0

# Staff ids come from storage/seed/directory.json.
HEAD_ID: Final = 1  # Волкова: curator, head of ЖКХ, roads, transport, energy, improvement
OFFICER_ID: Final = 3  # Суркова: the officer who sets up the chats
HEAD = User(id=710001, first_name="Наталья", last_name="Волкова", username="volkova_nn")
OFFICER = User(id=710003, first_name="Ольга", last_name="Суркова", username="surkova_oi")
STAFF_CHAT = Chat.supergroup(-1001000000001, "МЦУ: служебный чат")
DISCUSSION = Chat.supergroup(-1001000000002, "Новости района: обсуждение")
CHANNEL = Chat.channel(-1001000000003, "Новости района", username="trosna_news")

ADMIN_LOGIN: Final = "e2e-admin"
ADMIN_PASSWORD: Final = "e2e-admin-password"
CARD_BUTTONS: Final = [
    [texts.BTN_ACCEPT, texts.BTN_ANSWER],
    [texts.BTN_REASSIGN, texts.BTN_REJECT],
    [texts.BTN_CLOSE, texts.BTN_MORE],
]
ACK_NUMBER = re.compile(r"под номером (\d+)\.")
# Errors anywhere, a delivery the Bot API refused, an error the user could not be told about. Checked per
# test, so aiogram's error while the process stops is not counted.
PROBLEM = re.compile(r" (ERROR|CRITICAL) | WARNING bot\.(worker|telegram\.routers\.errors):|Traceback")


@dataclass
class World:
    """The running product with its staff linked, the staff chat set, and an admin logged in to the API."""

    emu: BotApiEmulator
    mcu: McuProcess
    api: AdminApi
    links: dict[int, Message]  # staff id -> the bot's confirmation in their private chat
    staff_chat_confirmation: Message


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(bot_api: BotApiEmulator, mcu: McuProcess) -> AsyncIterator[World]:
    """Link the officer and the head by their invite links, make the staff chat, log in to the admin API."""
    officer_link, head_link, _ = await asyncio.gather(
        mcu.cli("staff", "invite", str(OFFICER_ID)),
        mcu.cli("staff", "invite", str(HEAD_ID)),
        mcu.cli("users", "create", ADMIN_LOGIN, "--role", "admin", stdin=ADMIN_PASSWORD + "\n"),
    )
    links: dict[int, Message] = {}
    for staff_id, user, link in ((OFFICER_ID, OFFICER, officer_link), (HEAD_ID, HEAD, head_link)):
        prefix = f"https://t.me/{BOT_USERNAME}?start="
        assert link.strip().startswith(prefix), link
        # Opening the deep link in Telegram sends `/start <token>` to the bot.
        await bot_api.send_private(user, "/start " + link.strip().removeprefix(prefix))
        links[staff_id] = await bot_api.wait_for_bot_message(user.id, contains="Готово: вы подключены", timeout=WAIT_S)

    await bot_api.send_group(STAFF_CHAT, OFFICER, "/staffchat")
    confirmation = await bot_api.wait_for_bot_message(STAFF_CHAT.id, text=texts.STAFF_CHAT_SET, timeout=WAIT_S)
    api = await AdminApi.log_in(mcu.admin_url, ADMIN_LOGIN, ADMIN_PASSWORD)
    yield World(bot_api, mcu, api, links, confirmation)


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def nothing_went_wrong(bot_api: BotApiEmulator, mcu: McuProcess) -> AsyncIterator[None]:
    """After each test: the product logged no errors and called no Bot API method the emulator lacks."""
    start = len(mcu.log_text())
    yield
    problems = [line for line in mcu.log_text()[start:].splitlines() if PROBLEM.search(line)]
    assert not problems, "`mcu run` logged problems:\n" + "\n".join(problems)
    assert not await bot_api.unsupported_calls()


# ---------------------------------------------------------------------------------------------- helpers


def buttons(message: Message) -> list[list[str]]:
    markup = message.get("reply_markup") or {}
    return [[button["text"] for button in row] for row in markup.get("inline_keyboard", [])]


def callback_of(message: Message, title: str) -> str:
    """The callback data of the button a person sees as `title`."""
    for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == title:
                return str(button["callback_data"])
    raise AssertionError(f"no button «{title}» under message {message.get('message_id')}: {buttons(message)}")


def card_title(number: int) -> str:
    return f"<b>{texts.CARD_TITLE.format(number=number)}</b>"


def is_card(number: int) -> Callable[[Message], bool]:
    return lambda message: (message.get("text") or "").startswith(card_title(number))


async def cards_of(emu: BotApiEmulator, chat_id: int, number: int) -> list[Message]:
    return [m for m in await emu.bot_messages(chat_id) if is_card(number)(m)]


async def wait_card(
    emu: BotApiEmulator, chat_id: int, number: int, *contains: str, message_id: int | None = None
) -> Message:
    """The card of incident `number` in `chat_id`, once its text shows everything in `contains`."""

    def ready(message: Message) -> bool:
        text = message.get("text") or ""
        same = message_id is None or message["message_id"] == message_id
        return same and is_card(number)(message) and all(part in text for part in contains)

    return await emu.wait_for_bot_message(chat_id, ready, timeout=WAIT_S)


async def citizen_writes(emu: BotApiEmulator, citizen: User, text: str) -> tuple[Message, int, Message]:
    """A citizen writes to the bot; return their message, the incident number and the acknowledgement."""
    sent = await emu.send_private(citizen, text)
    ack = await emu.wait_for_bot_message(citizen.id, contains="зарегистрировано под номером", timeout=WAIT_S)
    found = ACK_NUMBER.search(ack["text"])
    assert found is not None, ack["text"]
    number = int(found.group(1))
    assert ack["text"] == texts.ACK.format(number=number)
    assert ack["reply_to_message"]["message_id"] == sent["message_id"]
    return sent, number, ack


async def answer_by_card(emu: BotApiEmulator, staff: User, chat: Chat, card: Message, number: int, text: str) -> None:
    """`staff` presses «Ответить» on `card` in `chat`, writes `text` as a reply to the prompt and publishes it."""
    await emu.press_button(staff, chat, card, callback_of(card, texts.BTN_ANSWER))
    prompt = await emu.wait_for_bot_message(chat.id, text=texts.ASK_ANSWER.format(number=number), timeout=WAIT_S)
    assert prompt["x_emulator"]["reply_markup"]["force_reply"] is True
    if chat.type == "private":
        await emu.send_private(staff, text, reply_to=prompt)
    else:
        await emu.send_group(chat, staff, text, reply_to=prompt)
    preview_text = texts.PREVIEW.format(number=number, text=f"<blockquote>{escape(text)}</blockquote>")
    preview = await emu.wait_for_bot_message(chat.id, text=preview_text, timeout=WAIT_S)
    assert preview["x_emulator"]["parse_mode"] == "HTML"
    assert texts.BTN_PUBLISH in buttons(preview)[0]

    await emu.press_button(staff, chat, preview, callback_of(preview, texts.BTN_PUBLISH))
    await emu.wait_for_bot_message(chat.id, text=texts.ANSWER_ACCEPTED.format(number=number), timeout=WAIT_S)
    published = await emu.wait_for_bot_message(
        chat.id, lambda m: m["message_id"] == preview["message_id"] and "reply_markup" not in m, timeout=WAIT_S
    )
    assert published["text"] == preview_text


async def answered_callbacks(emu: BotApiEmulator) -> list[Any]:
    return [call["params"].get("text") for call in await emu.calls("answerCallbackQuery")]


# ---------------------------------------------------------------------------------------------- tests


async def test_staff_link_by_invite_and_staff_chat(world: World) -> None:
    assert world.links[OFFICER_ID]["text"] == texts.LINKED.format(
        name="Суркова Ольга Ивановна", roles="ответственный за «Инцидент менеджмент» и аккаунты"
    )
    assert world.links[HEAD_ID]["text"] == texts.LINKED.format(
        name="Волкова Наталья Николаевна", roles="куратор МЦУ, руководитель отраслевого блока"
    )
    assert world.staff_chat_confirmation["chat"]["type"] == "supergroup"

    listing = await world.mcu.cli("staff", "list")

    rows = {int(line.split()[0]): line for line in listing.splitlines()[1:] if line.strip()}
    assert f"@{OFFICER.username}" in rows[OFFICER_ID] and "Суркова" in rows[OFFICER_ID]
    assert f"@{HEAD.username}" in rows[HEAD_ID] and "Волкова" in rows[HEAD_ID]
    assert "не подключён" in rows[2] and "не подключён" in rows[5]


async def test_citizen_message_becomes_card_and_answer_reaches_citizen(world: World) -> None:
    emu = world.emu
    citizen = User(id=720001, first_name="Иван", last_name="Петров", username="ivan_petrov")
    question = "Яма на дороге <b>ул. Ленина</b> & двор"

    sent, number, _ = await citizen_writes(emu, citizen, question)

    head_card = await wait_card(emu, HEAD.id, number)
    staff_card = await wait_card(emu, STAFF_CHAT.id, number)
    for card in (head_card, staff_card):
        text = card["text"]
        # The emulator keeps HTML as sent: the citizen's markup must arrive escaped, never as tags.
        assert card["x_emulator"]["parse_mode"] == "HTML"
        assert f"<blockquote>{escape(question)}</blockquote>" in text
        assert "Яма на дороге &lt;b&gt;ул. Ленина&lt;/b&gt; &amp; двор" in text
        assert texts.CARD_STATUS.format(status="назначен") in text
        assert texts.CARD_SECTOR.format(sector="Дороги") in text
        assert texts.CARD_ASSIGNEE.format(name="Волкова Н. Н.") in text
        assert "Иван Петров (@ivan_petrov)" in text
        assert buttons(card) == CARD_BUTTONS

    answer = "Спасибо! Яму на <ул. Ленина> засыплют до пятницы & сообщат здесь."
    await answer_by_card(emu, HEAD, Chat.private(HEAD), head_card, number, answer)

    reply = await emu.wait_for_bot_message(citizen.id, text=answer, timeout=WAIT_S)
    # Staff text goes out as plain text: exactly what the head typed, as a reply to the citizen's message.
    assert reply["x_emulator"].get("parse_mode") is None
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]
    answered = (texts.CARD_STATUS.format(status="дан ответ"), "Ответ: Волкова Н. Н.,", "— опубликован")
    for chat_id, card in ((HEAD.id, head_card), (STAFF_CHAT.id, staff_card)):
        edited = await wait_card(emu, chat_id, number, *answered, message_id=card["message_id"])
        assert edited["x_emulator"]["edit_history"], "the card was edited in place"
        assert buttons(edited) == [[texts.BTN_ANSWER], [texts.BTN_CLOSE]]
        assert len(await cards_of(emu, chat_id, number)) == 1
    # After the final answer the citizen is asked, once, whether the problem is solved, with two buttons.
    survey = await emu.wait_for_bot_message(citizen.id, text=texts.SURVEY_QUESTION.format(number=number))
    assert buttons(survey) == [[texts.BTN_SOLVED, texts.BTN_UNSOLVED]]
    assert [m["text"] for m in await emu.bot_messages(citizen.id)] == [
        texts.ACK.format(number=number),
        answer,
        texts.SURVEY_QUESTION.format(number=number),
    ]

    detail = await world.api.incident(number)
    assert detail["status"] == "answered" and detail["sector_code"] == "roads"
    assert detail["text"] == question
    assert detail["last_reply"]["text"] == answer and detail["last_reply"]["state"] == "published"


async def test_same_update_delivered_twice_makes_one_incident(world: World) -> None:
    emu = world.emu
    citizen = User(id=720002, first_name="Мария", last_name="Смирнова")
    before = (await world.api.incidents())["total"]
    log_mark = len(world.mcu.log_text())
    message = emu.build_message(Chat.private(citizen), citizen, "Нет воды в доме 12 на ул. Мира с самого утра")

    queued = await emu.inject_update({"message": message})
    again = await emu.inject_update(queued)  # Telegram redelivering: same update_id, same message

    assert again["update_id"] == queued["update_id"]
    # The product's log is the only outside sign that the second delivery was seen (and recognised).
    await world.mcu.wait_for_log("delivered again: already incident", after=log_mark, timeout=WAIT_S)
    ack = await emu.wait_for_bot_message(citizen.id, contains="зарегистрировано под номером", timeout=WAIT_S)
    found = ACK_NUMBER.search(ack["text"])
    assert found is not None
    number = int(found.group(1))
    await wait_card(emu, STAFF_CHAT.id, number, texts.CARD_SECTOR.format(sector="Жилищно-коммунальное хозяйство"))
    await wait_card(emu, HEAD.id, number)
    assert (await world.api.incidents())["total"] == before + 1
    assert [m["text"] for m in await emu.bot_messages(citizen.id)] == [texts.ACK.format(number=number)]
    assert len(await cards_of(emu, STAFF_CHAT.id, number)) == 1
    assert len(await cards_of(emu, HEAD.id, number)) == 1
    detail = await world.api.incident(number)
    assert len(detail["messages"]) == 1


async def test_channel_comment_is_answered_in_its_thread_and_follow_up_is_attached(world: World) -> None:
    emu = world.emu
    citizen = User(id=720003, first_name="Пётр", last_name="Иванов", username="p_ivanov")
    await emu.send_group(DISCUSSION, OFFICER, "/watch_comments")
    watching = texts.WATCH_ON.format(title=DISCUSSION.title, kind="Telegram, комментарии канала")
    await emu.wait_for_bot_message(DISCUSSION.id, text=watching, timeout=WAIT_S)
    post = await emu.forward_channel_post(
        DISCUSSION, CHANNEL, "С 1 декабря закрывается мост через Сосну", channel_message_id=77
    )
    comment_text = "Объездная дорога через Ломовец вся в ямах, как по ней ездить?"

    comment = await emu.send_group(DISCUSSION, citizen, comment_text, reply_to=post)

    card = await emu.wait_for_bot_message(STAFF_CHAT.id, contains=escape(comment_text), timeout=WAIT_S)
    title = re.match(r"<b>Инцидент № (\d+)</b>", card["text"])
    assert title is not None, card["text"]
    number = int(title.group(1))
    permalink = f"https://t.me/{CHANNEL.username}/77?comment={comment['message_id']}"
    assert f'<a href="{permalink}">{texts.CARD_OPEN_ORIGINAL}</a>' in card["text"]
    assert f"Telegram, комментарии канала «{DISCUSSION.title}»" in card["text"]
    assert texts.CARD_SECTOR.format(sector="Дороги") in card["text"]
    await wait_card(emu, HEAD.id, number)
    # No acknowledgement in a public thread, and the channel's own post is no incident.
    assert [m["text"] for m in await emu.bot_messages(DISCUSSION.id)] == [watching]
    from_thread = [i for i in (await world.api.incidents())["items"] if (i["permalink"] or "").startswith(permalink)]
    assert [i["id"] for i in from_thread] == [number]

    answer = "Объезд отсыплют щебнем до 1 декабря. Спасибо, что написали!"
    await answer_by_card(emu, HEAD, STAFF_CHAT, card, number, answer)

    reply = await emu.wait_for_bot_message(DISCUSSION.id, text=answer, timeout=WAIT_S)
    assert reply["reply_to_message"]["message_id"] == comment["message_id"]
    await wait_card(emu, STAFF_CHAT.id, number, texts.CARD_STATUS.format(status="дан ответ"), "— опубликован")

    follow_up = "И ещё: на повороте к мосту нет знака <объезд>"
    await emu.send_group(DISCUSSION, citizen, follow_up, reply_to=post)

    notice = texts.NOTICE_FOLLOWUP.format(number=number, text=f"<blockquote>{escape(follow_up)}</blockquote>")
    for chat_id in (HEAD.id, STAFF_CHAT.id):
        await emu.wait_for_bot_message(chat_id, text=notice, timeout=WAIT_S)
        await wait_card(emu, chat_id, number, texts.CARD_FOLLOWUPS.format(count=1))
        assert len(await cards_of(emu, chat_id, number)) == 1
    detail = await world.api.incident(number)
    assert [m["text"] for m in detail["messages"]] == [comment_text, follow_up]
    from_group = [i for i in (await world.api.incidents())["items"] if i["source_id"] == detail["source_id"]]
    assert [i["id"] for i in from_group] == [number]
    assert [m["text"] for m in await emu.bot_messages(DISCUSSION.id)] == [watching, answer]


async def test_reassign_to_another_sector_updates_cards(world: World) -> None:
    emu = world.emu
    citizen = User(id=720004, first_name="Анна", last_name="Кузнецова")
    _, number, _ = await citizen_writes(emu, citizen, "Возле школы № 2 разбит тротуар, дети ходят по проезжей части")
    card = await wait_card(emu, STAFF_CHAT.id, number, texts.CARD_SECTOR.format(sector="Дороги"))
    head_card = await wait_card(emu, HEAD.id, number)

    await emu.press_button(OFFICER, STAFF_CHAT, card, callback_of(card, texts.BTN_REASSIGN))

    def shows_sectors(message: Message) -> bool:
        return message["message_id"] == card["message_id"] and any("Образование" in row for row in buttons(message))

    choice = await emu.wait_for_bot_message(STAFF_CHAT.id, shows_sectors, timeout=WAIT_S)
    titles = [title for row in buttons(choice) for title in row]
    assert "Дороги" not in titles and titles[-1] == texts.BTN_BACK
    await emu.press_button(OFFICER, STAFF_CHAT, choice, callback_of(choice, "Образование"))

    moved = (texts.CARD_SECTOR.format(sector="Образование"), "Ерохина И. В. (не подключён к боту)")
    updated = await wait_card(emu, STAFF_CHAT.id, number, *moved, message_id=card["message_id"])
    assert buttons(updated) == CARD_BUTTONS
    # The old head's card stays true too; the new head is not linked, so no new card goes anywhere.
    await wait_card(emu, HEAD.id, number, *moved, message_id=head_card["message_id"])
    assert len(await cards_of(emu, STAFF_CHAT.id, number)) == 1
    assert len(await cards_of(emu, HEAD.id, number)) == 1
    assert texts.DONE_REASSIGNED.format(sector="Образование") in await answered_callbacks(emu)
    detail = await world.api.incident(number)
    assert detail["sector_code"] == "education"
    assert detail["status"] == "assigned" and detail["classified_by"] == "manual"
    assert detail["assignee"] == "Ерохина Инна Владимировна"
