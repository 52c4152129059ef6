"""Buttons of incident cards and the answer dialogue: ask for the text, preview it, publish on confirmation."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram import F, Router
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, ForceReply, InaccessibleMessage, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram import texts
from bot.telegram.filters import is_citizen, is_staff
from bot.telegram.render import (
    DraftCb,
    ExtendCb,
    IncidentCb,
    SectorCb,
    card_keyboard,
    card_keyboard_for,
    draft_keyboard,
    extend_keyboard,
    more_keyboard,
    sectors_keyboard,
    when,
)
from handlers.deadlines import extension_until
from handlers.directory import list_sectors
from handlers.incidents import (
    accept_incident,
    answer_incident,
    check_may_act,
    check_may_answer,
    close_incident,
    extend_deadline,
    reassign_incident,
    reject_incident,
    reopen_incident,
    resume_incident,
    set_track,
    set_urgent,
    view_incident,
    wait_for_citizen,
)
from storage.models import Staff


class AnswerFlow(StatesGroup):
    text = State()
    confirm = State()


class ExtendFlow(StatesGroup):
    reason = State()


async def _show(query: CallbackQuery, keyboard: InlineKeyboardMarkup) -> None:
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=keyboard)
        except TelegramBadRequest as error:
            if "message is not modified" not in error.message:
                raise


# Buttons that do one thing and say so.
SIMPLE_ACTIONS = {
    "accept": (accept_incident, texts.DONE_ACCEPTED),
    "reject": (reject_incident, texts.DONE_REJECTED),
    "close": (close_incident, texts.DONE_CLOSED),
    "reopen": (reopen_incident, texts.DONE_REOPENED),
    "wait": (wait_for_citizen, texts.DONE_WAITING),
    "resume": (resume_incident, texts.DONE_RESUMED),
}


async def not_staff(query: CallbackQuery) -> None:
    await query.answer(texts.NOT_STAFF, show_alert=True)


async def on_action(
    query: CallbackQuery,
    callback_data: IncidentCb,
    session: AsyncSession,
    staff: Staff,
    now: datetime,
    state: FSMContext,
) -> None:
    number = callback_data.incident_id
    action = callback_data.action
    if action in SIMPLE_ACTIONS:
        act, done = SIMPLE_ACTIONS[action]
        await act(session, incident_id=number, staff=staff, now=now)
        await query.answer(done)
    elif action == "more":
        incident = await check_may_act(session, incident_id=number, staff=staff)
        await _show(query, more_keyboard(incident))
        await query.answer()
    elif action in ("urgent", "not_urgent"):
        incident = await set_urgent(session, incident_id=number, staff=staff, urgent=action == "urgent", now=now)
        done = texts.DONE_URGENT if incident.urgent else texts.DONE_NOT_URGENT
        await query.answer(done.format(due=when(incident.due_at)))
    elif action in ("appeal", "social"):
        incident = await set_track(session, incident_id=number, staff=staff, track=action, now=now)
        done = texts.DONE_APPEAL if action == "appeal" else texts.DONE_SOCIAL
        await query.answer(done.format(due=when(incident.due_at)))
    elif action == "extend":
        await check_may_act(session, incident_id=number, staff=staff)
        await _show(query, extend_keyboard(number))
        await query.answer(texts.CHOOSE_EXTENSION)
    elif action == "reassign":
        incident = await check_may_act(session, incident_id=number, staff=staff)
        if isinstance(query.message, Message):
            sectors = await list_sectors(session)
            await query.message.edit_reply_markup(reply_markup=sectors_keyboard(number, sectors, incident.sector_code))
        await query.answer(texts.CHOOSE_SECTOR)
    elif action == "back":
        await check_may_act(session, incident_id=number, staff=staff)
        if isinstance(query.message, Message):
            view = await view_incident(session, number)
            await query.message.edit_reply_markup(reply_markup=card_keyboard_for(view))
        await query.answer()
    elif action == "answer":
        await check_may_answer(session, incident_id=number, staff=staff)
        await state.set_state(AnswerFlow.text)
        await state.set_data({"incident_id": number})
        await query.answer()
        if query.message is not None and not isinstance(query.message, InaccessibleMessage):
            await query.message.answer(
                texts.ASK_ANSWER.format(number=number),
                reply_markup=ForceReply(selective=True, input_field_placeholder=texts.ASK_ANSWER_PLACEHOLDER),
            )
    else:
        await query.answer()


async def on_sector(
    query: CallbackQuery, callback_data: SectorCb, session: AsyncSession, staff: Staff, now: datetime
) -> None:
    incident = await reassign_incident(
        session, incident_id=callback_data.incident_id, sector_code=callback_data.code, staff=staff, now=now
    )
    view = await view_incident(session, callback_data.incident_id)
    if isinstance(query.message, Message):
        # The worker redraws the card text; put the normal buttons back at once.
        try:
            await query.message.edit_reply_markup(
                reply_markup=card_keyboard(callback_data.incident_id, incident.status)
            )
        except TelegramBadRequest as error:
            # The worker's redraw (with these very buttons) may have come first: the card is already right.
            if "message is not modified" not in error.message:
                raise
    await query.answer(texts.DONE_REASSIGNED.format(sector=view.sector.title if view.sector else "—"))


async def on_answer_text(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    text = (message.text or "").strip()
    if not text:
        await message.answer(texts.ANSWER_TEXT_REQUIRED)
        return
    await state.set_state(AnswerFlow.confirm)
    await state.update_data(text=text)
    await message.answer(
        texts.PREVIEW.format(number=data["incident_id"], text=f"<blockquote>{escape(text)}</blockquote>"),
        parse_mode=ParseMode.HTML,
        reply_markup=draft_keyboard(),
    )


async def on_draft(
    query: CallbackQuery,
    callback_data: DraftCb,
    session: AsyncSession,
    staff: Staff,
    now: datetime,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if "incident_id" not in data or ("text" not in data and callback_data.action in ("publish", "interim")):
        await state.clear()
        await query.answer(texts.ANSWER_SESSION_LOST, show_alert=True)
        return
    number = data["incident_id"]
    message = query.message if isinstance(query.message, Message) else None
    if callback_data.action in ("publish", "interim"):
        final = callback_data.action == "publish"
        await answer_incident(session, incident_id=number, staff=staff, text=data["text"], now=now, final=final)
        await state.clear()
        if message is not None:
            await message.edit_reply_markup(reply_markup=None)
            if final:
                await message.answer(texts.ANSWER_ACCEPTED.format(number=number))
            else:
                view = await view_incident(session, number)
                due = when(view.incident.due_at)
                await message.answer(texts.ANSWER_INTERIM_ACCEPTED.format(number=number, due=due))
        await query.answer()
    elif callback_data.action == "edit":
        await state.set_state(AnswerFlow.text)
        await query.answer()
        if message is not None:
            await message.answer(
                texts.ASK_ANSWER.format(number=number),
                reply_markup=ForceReply(selective=True, input_field_placeholder=texts.ASK_ANSWER_PLACEHOLDER),
            )
    else:
        await state.clear()
        if message is not None:
            await message.edit_reply_markup(reply_markup=None)
        await query.answer(texts.ANSWER_CANCELLED)


async def on_extend(
    query: CallbackQuery,
    callback_data: ExtendCb,
    session: AsyncSession,
    staff: Staff,
    now: datetime,
    state: FSMContext,
) -> None:
    """A choice of days first, then the reason as a reply: the extension is recorded with who, when and why."""
    number = callback_data.incident_id
    await check_may_act(session, incident_id=number, staff=staff)
    until = await extension_until(session, incident_id=number, working_days=callback_data.days, now=now)
    await state.set_state(ExtendFlow.reason)
    await state.set_data({"incident_id": number, "until": until.isoformat()})
    await query.answer()
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.answer(
            texts.ASK_EXTEND_REASON.format(number=number, until=when(until)),
            reply_markup=ForceReply(selective=True, input_field_placeholder=texts.ASK_EXTEND_PLACEHOLDER),
        )


async def on_extend_reason(
    message: Message, session: AsyncSession, staff: Staff, now: datetime, state: FSMContext
) -> None:
    data = await state.get_data()
    await state.clear()
    if "incident_id" not in data:
        await message.answer(texts.EXTEND_SESSION_LOST)
        return
    until = datetime.fromisoformat(data["until"])
    await extend_deadline(
        session, incident_id=data["incident_id"], staff=staff, until=until, reason=message.text or "", now=now
    )
    await message.answer(texts.DONE_EXTENDED.format(number=data["incident_id"], until=when(until)))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(not_staff, F.data.regexp(r"^[isdx]:"), is_citizen)
    router.callback_query.register(on_action, IncidentCb.filter(), is_staff)
    router.callback_query.register(on_sector, SectorCb.filter(), is_staff)
    router.callback_query.register(on_draft, DraftCb.filter(), is_staff)
    router.callback_query.register(on_extend, ExtendCb.filter(), is_staff)
    router.message.register(on_answer_text, AnswerFlow.text, is_staff)
    router.message.register(on_extend_reason, ExtendFlow.reason, is_staff)
    return router
