"""Sending outbox intents to Telegram: cards, their in-place updates, notices, acknowledgements and answers."""

from __future__ import annotations

from datetime import datetime

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import LinkPreviewOptions, ReplyParameters
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram import texts
from bot.telegram.render import render_card, render_digest, render_notice, render_source_failed, survey_keyboard
from bot.textsplit import split_message
from bot.worker import DeliveryFailed
from handlers import outbox
from handlers.incidents import view_incident
from storage.models import Incident, IncidentMessage, Outbox, Reply, Sector, Source

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class TelegramSender:
    platform = "telegram"

    def __init__(self, bot: Bot, *, admin_url: str | None = None) -> None:
        self.bot = bot
        self.admin_url = admin_url

    async def send(self, session: AsyncSession, item: Outbox, now: datetime) -> list[str]:
        try:
            return await self._send(session, item, now)
        except TelegramRetryAfter as error:
            raise DeliveryFailed(outbox.Failure(error=str(error), retry_after=float(error.retry_after))) from error
        except (TelegramNetworkError, TelegramServerError) as error:
            raise DeliveryFailed(outbox.Failure(error=str(error))) from error
        except TelegramBadRequest as error:
            if "message is not modified" in error.message:
                return [str(item.payload.get("message_id", ""))]
            raise DeliveryFailed(outbox.Failure(error=str(error), permanent=True)) from error
        except (TelegramForbiddenError, TelegramNotFound) as error:
            raise DeliveryFailed(outbox.Failure(error=str(error), permanent=True)) from error

    async def _send(self, session: AsyncSession, item: Outbox, now: datetime) -> list[str]:
        chat = int(item.chat_id)
        if item.kind == outbox.SOURCE_FAILED:
            source = await session.get(Source, int(item.payload["source_id"]))
            text = render_source_failed(source) if source else ""
            sent = await self.bot.send_message(chat, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
            return [str(sent.message_id)]
        if item.kind == outbox.DIGEST:
            numbers = [int(n) for n in item.payload.get("incidents", [])]
            rows = list(await session.exec(select(Incident).where(col(Incident.id).in_(numbers))))
            rows.sort(key=lambda i: (i.due_at or now, i.id or 0))
            sectors = {s.code: s for s in await session.exec(select(Sector))}
            text = render_digest(rows, sectors, now=now)
            sent = await self.bot.send_message(chat, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
            return [str(sent.message_id)]
        assert item.incident_id is not None
        view = await view_incident(session, item.incident_id)
        if item.kind == outbox.CARD:
            text, keyboard = render_card(view, now=now, admin_url=self.admin_url)
            sent = await self.bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, reply_markup=keyboard, link_preview_options=NO_PREVIEW
            )
            return [str(sent.message_id)]
        if item.kind == outbox.CARD_UPDATE:
            text, keyboard = render_card(view, now=now, admin_url=self.admin_url)
            message_id = int(item.payload["message_id"])
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard,
                link_preview_options=NO_PREVIEW,
            )
            return [str(message_id)]
        if item.kind == outbox.SURVEY:
            sent = await self.bot.send_message(
                chat,
                texts.SURVEY_QUESTION.format(number=view.incident.id),
                parse_mode=None,
                reply_markup=survey_keyboard(item.incident_id),
            )
            return [str(sent.message_id)]
        if item.kind in (outbox.ACK, outbox.PROMPT):
            sent = await self.bot.send_message(
                chat,
                texts.ACK.format(number=view.incident.id) if item.kind == outbox.ACK else texts.CITIZEN_START,
                parse_mode=None,
                reply_parameters=self._reply_to(view.incident.message_ref),
            )
            return [str(sent.message_id)]
        if item.kind == outbox.REPLY:
            assert item.reply_id is not None
            reply = await session.get(Reply, item.reply_id)
            assert reply is not None
            ids: list[str] = []
            # Staff text goes out as plain text: what they typed is exactly what the citizen reads.
            for number, part in enumerate(split_message(reply.text)):
                sent = await self.bot.send_message(
                    chat,
                    part,
                    parse_mode=None,
                    reply_parameters=self._reply_to(view.incident.message_ref) if number == 0 else None,
                    link_preview_options=NO_PREVIEW,
                )
                ids.append(str(sent.message_id))
            return ids
        extra: str | None = None
        if item.kind in (outbox.FOLLOWUP, outbox.PROBLEM_REPORT):
            message = await session.get(IncidentMessage, int(item.payload["message_id"]))
            extra = message.text if message else ""
        elif item.kind == outbox.REPLY_FAILED and item.reply_id is not None:
            reply = await session.get(Reply, item.reply_id)
            extra = reply.error if reply else ""
        text = render_notice(item.kind, view, payload=item.payload, extra=extra)
        sent = await self.bot.send_message(chat, text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
        return [str(sent.message_id)]

    @staticmethod
    def _reply_to(message_ref: str) -> ReplyParameters | None:
        return ReplyParameters(message_id=int(message_ref), allow_sending_without_reply=True) if message_ref else None
