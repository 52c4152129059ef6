"""The aiogram routers fed with real Update objects over a real database and a Bot API mocked at HTTP."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.methods import AnswerCallbackQuery, EditMessageReplyMarkup, EditMessageText, SendMessage
from aiogram.types import Update
from sqlmodel import col, func, select

from bot.app import create_dispatcher
from bot.telegram import texts
from bot.telegram.render import DraftCb, ExtendCb, IncidentCb, SectorCb, SurveyCb
from handlers import outbox
from handlers.directory import create_invite
from handlers.incidents import answer_incident, mark_reply_published
from storage.db import SessionPool
from storage.models import Incident, IncidentEvent, Outbox, Reply, Setting, Source, Staff, Status
from tests.bot.mocked import RecordingSession, make_bot
from tests.conftest import Clock

CITIZEN = {"id": 501, "is_bot": False, "first_name": "Иван", "last_name": "Петров", "username": "ivan"}
OFFICER = {"id": 7003, "is_bot": False, "first_name": "Ольга"}
HEAD = {"id": 7001, "is_bot": False, "first_name": "Наталья"}
OTHER_HEAD = {"id": 7005, "is_bot": False, "first_name": "Инна"}
STAFF_CHAT = {"id": -100500, "type": "supergroup", "title": "МЦУ"}
GROUP = {"id": -100777, "type": "supergroup", "title": "Тросна", "username": "trosna_chat"}

_ids = itertools.count(1)


def private(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


def message_update(user: dict[str, Any], text: str | None, chat: dict[str, Any] | None = None, **extra: Any) -> Update:
    number = next(_ids)
    body: dict[str, Any] = {
        "message_id": number,
        "date": int(datetime(2026, 11, 24, 7, 0, tzinfo=UTC).timestamp()),
        "chat": chat or private(user),
        "from": user,
        **extra,
    }
    if text is not None:
        body["text"] = text
        if text.startswith("/"):
            body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return Update.model_validate({"update_id": number, "message": body})


def callback_update(user: dict[str, Any], data: str, chat: dict[str, Any] | None = None) -> Update:
    number = next(_ids)
    return Update.model_validate(
        {
            "update_id": number,
            "callback_query": {
                "id": str(number),
                "from": user,
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": 9000 + number,
                    "date": 0,
                    "chat": chat or private(user),
                    "from": {"id": 42, "is_bot": True, "first_name": "МЦУ"},
                    "text": "карточка",
                },
            },
        }
    )


class Harness:
    def __init__(self, dp: Dispatcher, bot: Bot, api: RecordingSession, pool: SessionPool) -> None:
        self.dp, self.bot, self.api, self.pool = dp, bot, api, pool

    async def feed(self, update: Update) -> Any:
        return await self.dp.feed_update(self.bot, update)

    async def link(self, staff_id: int, user: dict[str, Any]) -> None:
        async with self.pool() as session:
            token = await create_invite(session, staff_id=staff_id, now=datetime.now(UTC))
        await self.feed(message_update(user, f"/start {token}"))

    def answers(self) -> list[str]:
        return [r.text for r in self.api.sent(SendMessage)]

    def alerts(self) -> list[str | None]:
        return [r.text for r in self.api.sent(AnswerCallbackQuery)]

    async def incidents(self) -> list[Incident]:
        async with self.pool() as session:
            return list(await session.exec(select(Incident)))


@pytest.fixture
def harness(session_pool: SessionPool, clock: Clock) -> Iterator[Harness]:
    bot, api = make_bot()
    dp = create_dispatcher(session_pool=session_pool, clock=clock, wakeup=lambda: None)
    yield Harness(dp, bot, api, session_pool)


async def test_citizen_private_message_becomes_incident(harness: Harness) -> None:
    await harness.feed(message_update(CITIZEN, "Яма на дороге <b>у дома</b> & рядом"))
    [incident] = await harness.incidents()
    assert incident.sector_code == "roads" and incident.text == "Яма на дороге <b>у дома</b> & рядом"
    assert incident.chat_ref == "501"
    # Nothing is sent from the handler itself: the acknowledgement waits in the outbox.
    assert harness.api.requests == []
    async with harness.pool() as session:
        kinds = [o.kind for o in await session.exec(select(Outbox))]
    assert kinds == [outbox.ACK]


async def test_photo_with_caption_and_sticker_alone_are_incidents(harness: Harness) -> None:
    photo = [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
             {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800}]  # fmt: skip
    await harness.feed(message_update(CITIZEN, None, photo=photo, caption="Свалка у реки"))
    sticker = {"file_id": "st", "file_unique_id": "st", "type": "regular", "width": 512, "height": 512,
               "is_animated": False, "is_video": False, "emoji": "😡"}  # fmt: skip
    other = {**CITIZEN, "id": 502}
    await harness.feed(message_update(other, None, sticker=sticker))
    first, second = await harness.incidents()
    assert first.text == "Свалка у реки" and first.attachments[0]["file_id"] == "big"
    assert second.text == "" and second.attachments[0]["kind"] == "sticker"


async def test_deep_link_links_staff_and_staff_gets_help_not_incidents(harness: Harness) -> None:
    await harness.link(3, OFFICER)
    assert harness.answers()[-1].startswith("Готово: вы подключены как Суркова Ольга Ивановна")
    async with harness.pool() as session:
        staff = await session.get(Staff, 3)
    assert staff is not None and staff.telegram_id == OFFICER["id"]

    await harness.feed(message_update(OFFICER, "Привет"))
    assert harness.answers()[-1].startswith("Вы подключены как Суркова")
    assert await harness.incidents() == []


async def test_reused_invite_is_refused_politely(harness: Harness) -> None:
    async with harness.pool() as session:
        token = await create_invite(session, staff_id=3, now=datetime.now(UTC))
    await harness.feed(message_update(OFFICER, f"/start {token}"))
    await harness.feed(message_update(CITIZEN, f"/start {token}"))
    assert "недействительна" in harness.answers()[-1]


async def test_staff_chat_and_watch_commands(harness: Harness) -> None:
    await harness.feed(message_update(CITIZEN, "/staffchat", chat=STAFF_CHAT))
    assert harness.answers() == []  # a citizen gets silence
    await harness.link(3, OFFICER)
    await harness.feed(message_update(OFFICER, "/staffchat", chat=STAFF_CHAT))
    assert harness.answers()[-1] == texts.STAFF_CHAT_SET
    await harness.feed(message_update(OFFICER, "/watch_comments", chat=GROUP))
    assert "отслеживается" in harness.answers()[-1]
    async with harness.pool() as session:
        setting = await session.get(Setting, "telegram_staff_chat")
        source = (await session.exec(select(Source).where(Source.external_id == "-100777"))).one()
    assert setting is not None and setting.value == "-100500"
    assert source.kind == "tg_discussion" and source.username == "trosna_chat"

    # Comments in the watched group become incidents; staff talk and channel forwards do not.
    await harness.feed(message_update(CITIZEN, "Когда починят мост?", chat=GROUP, message_thread_id=3))
    await harness.feed(message_update(OFFICER, "Разбираемся", chat=GROUP))
    channel = {"id": -100999, "type": "channel", "title": "Администрация", "username": "trosna_adm"}
    await harness.feed(
        message_update(
            {"id": 777000, "is_bot": False, "first_name": "Telegram"},
            "Новый пост",
            chat=GROUP,
            sender_chat=channel,
            is_automatic_forward=True,
        )
    )
    [incident] = await harness.incidents()
    assert incident.thread_ref == "-100777:3"
    assert incident.permalink is not None and incident.permalink.startswith("https://t.me/trosna_chat/")


async def test_answer_dialogue_publishes_through_the_outbox(harness: Harness) -> None:
    await harness.link(1, HEAD)
    await harness.feed(message_update(CITIZEN, "Яма на дороге"))
    [incident] = await harness.incidents()
    number = incident.id or 0

    await harness.feed(callback_update(HEAD, IncidentCb(action="answer", incident_id=number).pack()))
    prompt = harness.api.sent(SendMessage)[-1]
    assert prompt.text == texts.ASK_ANSWER.format(number=number)
    assert prompt.reply_markup is not None and prompt.reply_markup.force_reply

    await harness.feed(message_update(HEAD, "Засыплем <яму> до пятницы"))
    preview = harness.api.sent(SendMessage)[-1]
    assert "Засыплем &lt;яму&gt; до пятницы" in preview.text

    await harness.feed(callback_update(HEAD, DraftCb(action="publish").pack()))
    assert harness.answers()[-1] == texts.ANSWER_ACCEPTED.format(number=number)
    async with harness.pool() as session:
        reply = (await session.exec(select(Reply))).one()
        refreshed = await session.get(Incident, number)
        queued = (await session.exec(select(Outbox).where(Outbox.kind == outbox.REPLY))).one()
    assert reply.text == "Засыплем <яму> до пятницы" and reply.staff_id == 1
    assert refreshed is not None and refreshed.status == Status.ANSWERED
    assert queued.chat_id == "501"


async def test_draft_cancel_and_lost_draft(harness: Harness) -> None:
    await harness.link(1, HEAD)
    await harness.feed(message_update(CITIZEN, "Яма на дороге"))
    [incident] = await harness.incidents()
    await harness.feed(callback_update(HEAD, IncidentCb(action="answer", incident_id=incident.id or 0).pack()))
    await harness.feed(message_update(HEAD, "Черновик"))
    await harness.feed(callback_update(HEAD, DraftCb(action="cancel").pack()))
    assert harness.alerts()[-1] == texts.ANSWER_CANCELLED
    await harness.feed(callback_update(HEAD, DraftCb(action="publish").pack()))
    assert harness.alerts()[-1] == texts.ANSWER_SESSION_LOST
    async with harness.pool() as session:
        assert (await session.exec(select(func.count()).select_from(Reply))).one() == 0


async def test_buttons_accept_reassign_close_and_refusals(harness: Harness) -> None:
    await harness.link(1, HEAD)
    await harness.link(5, OTHER_HEAD)
    await harness.feed(message_update(CITIZEN, "Яма на дороге"))
    [incident] = await harness.incidents()
    number = incident.id or 0

    await harness.feed(callback_update(CITIZEN, IncidentCb(action="close", incident_id=number).pack()))
    assert harness.alerts()[-1] == texts.NOT_STAFF
    await harness.feed(callback_update(OTHER_HEAD, IncidentCb(action="accept", incident_id=number).pack()))
    assert "другому блоку" in (harness.alerts()[-1] or "")

    await harness.feed(callback_update(HEAD, IncidentCb(action="accept", incident_id=number).pack()))
    assert harness.alerts()[-1] == texts.DONE_ACCEPTED
    await harness.feed(callback_update(HEAD, IncidentCb(action="reassign", incident_id=number).pack()))
    keyboard = harness.api.sent(EditMessageReplyMarkup)[-1].reply_markup
    titles = [b.text for row in keyboard.inline_keyboard for b in row]
    assert "Образование" in titles and "Дороги" not in titles
    await harness.feed(callback_update(HEAD, SectorCb(incident_id=number, code="education").pack()))
    assert harness.alerts()[-1] == texts.DONE_REASSIGNED.format(sector="Образование")

    await harness.feed(callback_update(OTHER_HEAD, IncidentCb(action="close", incident_id=number).pack()))
    assert harness.alerts()[-1] == texts.DONE_CLOSED
    await harness.feed(callback_update(OTHER_HEAD, IncidentCb(action="close", incident_id=number).pack()))
    assert "Нельзя закрыть" in (harness.alerts()[-1] or "")
    await harness.feed(callback_update(HEAD, IncidentCb(action="accept", incident_id=99999).pack()))
    assert "не найден" in (harness.alerts()[-1] or "")


async def test_unknown_and_unhandled_updates_are_logged_not_fatal(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await harness.feed(Update.model_validate({"update_id": 1, "brand_new_kind": {"x": 1}}))
    channel = {"id": -100999, "type": "channel", "title": "Администрация"}
    await harness.feed(
        Update.model_validate(
            {"update_id": 2, "channel_post": {"message_id": 1, "date": 0, "chat": channel, "text": "Пост"}}
        )
    )
    assert "unknown type ignored" in caplog.text
    assert "nothing handles it" in caplog.text
    assert await harness.incidents() == []


async def test_edited_message_updates_the_incident(harness: Harness) -> None:
    update = message_update(CITIZEN, "Яма на дороге")
    await harness.feed(update)
    assert update.message is not None
    edited = update.message.model_dump(mode="json", by_alias=True, exclude_none=True)
    edited["text"] = "Яма на дороге у дома 5"
    await harness.feed(Update.model_validate({"update_id": 99999, "edited_message": edited}))
    [incident] = await harness.incidents()
    assert incident.text == "Яма на дороге у дома 5"


async def test_duplicate_update_is_one_incident(harness: Harness) -> None:
    update = message_update(CITIZEN, "Нет света")
    await harness.feed(update)
    await harness.feed(update)
    assert len(await harness.incidents()) == 1


async def test_thanks_is_set_aside_and_the_officer_brings_it_back(harness: Harness) -> None:
    await harness.link(3, OFFICER)
    await harness.feed(message_update(CITIZEN, "Спасибо вам огромное!"))
    [incident] = await harness.incidents()
    assert incident.status == Status.REJECTED and incident.not_incident_reason == "thanks"
    number = incident.id or 0

    await harness.feed(callback_update(OFFICER, IncidentCb(action="reopen", incident_id=number).pack()))
    assert harness.alerts()[-1] == texts.DONE_REOPENED
    [incident] = await harness.incidents()
    assert incident.status == Status.NEW and len(incident.suggestions) == 3
    await harness.feed(callback_update(OFFICER, IncidentCb(action="reopen", incident_id=number).pack()))
    assert "и так в работе" in (harness.alerts()[-1] or "")


async def test_interim_answer_pause_resume_urgency_track_and_extension_from_the_card(harness: Harness) -> None:
    await harness.link(1, HEAD)
    await harness.feed(message_update(CITIZEN, "Яма на дороге"))
    [incident] = await harness.incidents()
    number = incident.id or 0

    await harness.feed(callback_update(HEAD, IncidentCb(action="answer", incident_id=number).pack()))
    await harness.feed(message_update(HEAD, "Приняли, выедем на место"))
    await harness.feed(callback_update(HEAD, DraftCb(action="interim").pack()))
    assert harness.answers()[-1].startswith(f"Промежуточный ответ по инциденту № {number}")
    [incident] = await harness.incidents()
    assert incident.status == Status.IN_PROGRESS and incident.phase == "answer"

    await harness.feed(callback_update(HEAD, IncidentCb(action="more", incident_id=number).pack()))
    more = harness.api.sent(EditMessageReplyMarkup)[-1].reply_markup
    assert [b.text for row in more.inline_keyboard for b in row] == [
        texts.BTN_URGENT,
        texts.BTN_WAIT,
        texts.BTN_EXTEND,
        texts.BTN_APPEAL,
        texts.BTN_BACK,
    ]
    await harness.feed(callback_update(HEAD, IncidentCb(action="wait", incident_id=number).pack()))
    assert harness.alerts()[-1] == texts.DONE_WAITING
    await harness.feed(callback_update(HEAD, IncidentCb(action="resume", incident_id=number).pack()))
    assert harness.alerts()[-1] == texts.DONE_RESUMED

    await harness.feed(callback_update(HEAD, IncidentCb(action="extend", incident_id=number).pack()))
    await harness.feed(callback_update(HEAD, ExtendCb(incident_id=number, days=3).pack()))
    assert harness.answers()[-1].startswith(f"Продление срока по инциденту № {number} до ")
    await harness.feed(message_update(HEAD, "Ждём асфальт от подрядчика"))
    assert harness.answers()[-1].startswith(f"Срок по инциденту № {number} продлён до ")

    await harness.feed(callback_update(HEAD, IncidentCb(action="appeal", incident_id=number).pack()))
    assert (harness.alerts()[-1] or "").startswith("Рассматривается по 59-ФЗ")
    async with harness.pool() as session:
        kinds = [e.kind for e in await session.exec(select(IncidentEvent).order_by(col(IncidentEvent.id)))]
        extended = (await session.exec(select(IncidentEvent).where(IncidentEvent.kind == "deadline_extended"))).one()
    assert [k for k in kinds if k in ("paused", "resumed", "deadline_extended", "track_changed")] == [
        "paused",
        "resumed",
        "deadline_extended",
        "track_changed",
    ]
    assert extended.data["reason"] == "Ждём асфальт от подрядчика"


async def test_citizen_answers_the_survey_with_buttons(harness: Harness, clock: Clock) -> None:
    await harness.feed(message_update(CITIZEN, "Яма на дороге"))
    [incident] = await harness.incidents()
    number = incident.id or 0
    async with harness.pool() as session:
        head = await session.get(Staff, 1)
        assert head is not None
        reply = await answer_incident(session, incident_id=number, staff=head, text="Засыпали", now=clock())
        await mark_reply_published(session, reply_id=reply.id or 0, platform_message_id="5", now=clock())

    stranger = {**CITIZEN, "id": 777}
    await harness.feed(callback_update(stranger, SurveyCb(incident_id=number, answer="no").pack()))
    assert "автора обращения" in (harness.alerts()[-1] or "")
    await harness.feed(callback_update(CITIZEN, SurveyCb(incident_id=number, answer="yes").pack()))
    assert harness.api.sent(EditMessageText)[-1].text == texts.SURVEY_RATE
    await harness.feed(callback_update(CITIZEN, SurveyCb(incident_id=number, answer="4").pack()))
    assert harness.api.sent(EditMessageText)[-1].text == texts.SURVEY_THANKS
    [incident] = await harness.incidents()
    assert (incident.solved, incident.rating, incident.status) == (True, 4, Status.ANSWERED)
