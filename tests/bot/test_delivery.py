"""The outbox worker with the Telegram sender: rendering, recording, limits, retries and failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError, TelegramRetryAfter
from aiogram.methods import EditMessageText, SendMessage, TelegramMethod
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ratelimit import telegram_limiter
from bot.telegram import texts
from bot.telegram.delivery import TelegramSender
from bot.worker import OutboxWorker
from handlers import outbox
from handlers.directory import set_staff_chat
from handlers.incidents import answer_incident, ingest_message
from storage.db import SessionPool
from storage.models import CardMessage, Incident, Outbox, OutboxState, Reply, Staff, Status
from tests.bot.mocked import RecordingSession, make_bot
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link


def make_worker(session_pool: SessionPool, clock: Clock) -> tuple[OutboxWorker, RecordingSession]:
    bot, api = make_bot()
    worker = OutboxWorker(
        session_pool=session_pool,
        sender=TelegramSender(bot, admin_url="https://mcu.example/admin"),
        limiter=telegram_limiter(clock=lambda: clock().timestamp()),
        clock=clock,
    )
    return worker, api


async def card_posted(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> tuple[OutboxWorker, RecordingSession]:
    """A road incident whose card reached the linked head (Telegram 7001) and whose ack reached the citizen."""
    await link(session, 1, 7001)
    await ingest_message(session, message=citizen("Яма", at=clock()), now=clock())
    worker, api = make_worker(session_pool, clock)
    await worker.tick()
    return worker, api


async def items(session: AsyncSession) -> list[Outbox]:
    session.expunge_all()
    return list(await session.exec(select(Outbox).order_by(col(Outbox.id))))


async def test_card_is_sent_escaped_and_recorded_then_edited_in_place(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await link(session, 1, 7001)
    await ingest_message(session, message=citizen("Яма <b>на дороге</b> & лужа", at=clock()), now=clock())
    worker, api = make_worker(session_pool, clock)

    await worker.tick()

    card, ack = sorted(api.sent(SendMessage), key=lambda r: r.chat_id, reverse=True)
    assert card.chat_id == 7001 and card.parse_mode == "HTML"
    assert "Яма &lt;b&gt;на дороге&lt;/b&gt; &amp; лужа" in card.text
    assert "Блок: Дороги" in card.text
    buttons = [b.text for row in card.reply_markup.inline_keyboard for b in row]
    assert buttons == ["Принять", "Ответить", "Другой блок", "Не инцидент", "Закрыть", "Ещё…"]
    assert ack.chat_id == 501 and "зарегистрировано под номером 1" in ack.text
    assert ack.reply_parameters is not None
    assert all(i.state == OutboxState.SENT for i in await items(session))
    [posted] = list(await session.exec(select(CardMessage)))
    assert posted.chat_id == "7001"

    head = await session.get(Staff, 1)
    assert head is not None
    clock.advance(seconds=5)
    await answer_incident(session, incident_id=1, staff=head, text="Засыплем", now=clock())
    await worker.tick()
    edit = api.sent(EditMessageText)[-1]
    assert edit.message_id == int(posted.message_id) and "Статус: дан ответ" in edit.text
    reply = api.sent(SendMessage)[-1]
    assert reply.text == "Засыплем" and reply.parse_mode is None and reply.chat_id == 501
    # Publication is recorded and the card redrawn once more with «опубликован», within the chat's limit.
    clock.advance(seconds=2)
    await worker.tick()
    assert "опубликован" in api.sent(EditMessageText)[-1].text


async def test_long_answer_is_split_and_long_text_trimmed_with_link(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await link(session, 1, 7001)
    long_text = "Яма на дороге. " + "Слово " * 2000
    await ingest_message(session, message=citizen(long_text, at=clock()), now=clock())
    head = await session.get(Staff, 1)
    assert head is not None
    await answer_incident(session, incident_id=1, staff=head, text="Абзац ответа. " * 700, now=clock())
    worker, api = make_worker(session_pool, clock)
    for _ in range(3):
        clock.advance(seconds=2)
        await worker.tick()
    card = next(r for r in api.sent(SendMessage) if r.chat_id == 7001)
    assert len(card.text) < 4096 and "текст сокращён" in card.text
    assert "https://mcu.example/admin/incidents/1" in card.text
    parts = [r for r in api.sent(SendMessage) if r.chat_id == 501 and r.parse_mode is None and "Абзац" in r.text]
    assert len(parts) == 3 and all(len(p.text) <= 4096 for p in parts)
    assert "".join(p.text for p in parts).replace(" ", "") == ("Абзац ответа. " * 700).replace(" ", "")
    assert parts[0].reply_parameters is not None and parts[1].reply_parameters is None


async def test_one_message_per_chat_per_round_keeps_order(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await set_staff_chat(session, staff=None, chat_id=-100500)
    for user in (501, 502, 503):
        await ingest_message(session, message=citizen("Яма", at=clock(), user=user), now=clock())
    worker, api = make_worker(session_pool, clock)
    await worker.tick()
    # Three acks to three citizens go at once; the staff chat gets its first card only.
    assert sorted(r.chat_id for r in api.sent(SendMessage)) == [-100500, 501, 502, 503]
    assert "Инцидент № 1" in next(r.text for r in api.sent(SendMessage) if r.chat_id == -100500)


def retry_after(method: TelegramMethod[Any]) -> Exception:
    return TelegramRetryAfter(method=method, message="Too Many Requests: retry after 7", retry_after=7)


def network_down(method: TelegramMethod[Any]) -> Exception:
    return TelegramNetworkError(method=method, message="Cannot connect")


def blocked(method: TelegramMethod[Any]) -> Exception:
    return TelegramForbiddenError(method=method, message="Forbidden: bot was blocked by the user")


async def test_retry_after_waits_without_counting_an_attempt(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await ingest_message(session, message=citizen("Яма", at=clock()), now=clock())
    worker, api = make_worker(session_pool, clock)
    api.fail_next(retry_after)
    await worker.tick()
    [item] = await items(session)
    assert item.state == OutboxState.PENDING and item.attempts == 0
    assert item.next_try_at == clock() + timedelta(seconds=7)
    await worker.tick()
    assert len(api.requests) == 1  # not due yet
    clock.advance(seconds=8)
    await worker.tick()
    assert (await items(session))[0].state == OutboxState.SENT


async def test_network_errors_back_off_then_succeed(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await ingest_message(session, message=citizen("Яма", at=clock()), now=clock())
    worker, api = make_worker(session_pool, clock)
    api.fail_next(network_down)
    api.fail_next(network_down)
    await worker.tick()
    [item] = await items(session)
    assert item.attempts == 1 and item.next_try_at == clock() + timedelta(seconds=2)
    assert item.last_error is not None and "Cannot connect" in item.last_error
    clock.advance(seconds=3)
    await worker.tick()
    [item] = await items(session)
    assert item.attempts == 2 and item.next_try_at == clock() + timedelta(seconds=4)
    clock.advance(seconds=5)
    await worker.tick()
    [item] = await items(session)
    assert item.state == OutboxState.SENT and item.last_error is None


async def test_blocked_citizen_fails_the_answer_and_tells_staff(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    worker, api = await card_posted(session_pool, session, clock)
    head = await session.get(Staff, 1)
    assert head is not None
    await answer_incident(session, incident_id=1, staff=head, text="Ответ", now=clock())
    api.fail_next(blocked, when=lambda m: isinstance(m, SendMessage) and m.chat_id == 501)
    clock.advance(seconds=2)
    await worker.tick()
    session.expunge_all()
    reply = (await session.exec(select(Reply))).one()
    incident = await session.get(Incident, 1)
    assert reply.state == "failed" and reply.error is not None and "blocked" in reply.error
    assert incident is not None and incident.status == Status.IN_PROGRESS
    clock.advance(seconds=2)
    await worker.tick()
    notice = next(r for r in api.sent(SendMessage) if "не удалось опубликовать" in r.text)
    assert notice.chat_id == 7001


async def test_unchanged_card_edit_counts_as_done(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    worker, api = await card_posted(session_pool, session, clock)
    await outbox.enqueue_card_updates(session, incident_id=1, now=clock())
    await session.commit()
    api.fail_next(lambda m: TelegramBadRequest(method=m, message="Bad Request: message is not modified"))
    clock.advance(seconds=2)
    await worker.tick()
    assert all(i.state == OutboxState.SENT for i in await items(session))


async def test_queued_redraws_of_one_card_collapse_into_the_newest(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    worker, api = await card_posted(session_pool, session, clock)
    for _ in range(3):
        await outbox.enqueue_card_updates(session, incident_id=1, now=clock())
        await session.commit()
    for _ in range(3):
        clock.advance(seconds=2)
        await worker.tick()
    assert len(api.sent(EditMessageText)) == 1
    assert all(i.state == OutboxState.SENT for i in await items(session))


async def test_a_hello_in_the_private_chat_is_answered_with_an_invitation_to_describe_the_problem(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await set_staff_chat(session, staff=None, chat_id=-100500)
    result = await ingest_message(session, message=citizen("Здравствуйте!", at=clock()), now=clock())
    assert result.incident is not None and result.incident.status == Status.REJECTED
    worker, api = make_worker(session_pool, clock)
    await worker.tick()
    to_citizen = [r for r in api.sent(SendMessage) if r.chat_id == 501]
    assert [r.text for r in to_citizen] == [texts.CITIZEN_START]
    # The officer still sees it, set aside with its reason.
    assert any(r.chat_id == -100500 and "Причина: приветствие" in r.text for r in api.sent(SendMessage))


async def test_the_survey_goes_to_the_citizen_with_two_buttons(
    session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    head = await link(session, 1, 7001)
    result = await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())
    assert result.incident is not None and result.incident.id is not None
    await answer_incident(session, incident_id=result.incident.id, staff=head, text="Засыпали", now=clock())
    worker, api = make_worker(session_pool, clock)
    for _ in range(3):  # the answer is published, then the survey follows it
        clock.advance(seconds=2)
        await worker.tick()
    survey = next(r for r in api.sent(SendMessage) if r.chat_id == 501 and r.text.startswith("По вашему обращению"))
    assert survey.reply_markup is not None
    assert [b.text for b in survey.reply_markup.inline_keyboard[0]] == [texts.BTN_SOLVED, texts.BTN_UNSOLVED]
