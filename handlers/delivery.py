"""What follows a delivery attempt: the outbox item settled and the incident told what reached the platform."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.incidents import mark_reply_failed, mark_reply_published
from storage.models import CardMessage, Outbox, OutboxState


async def record_sent(session: AsyncSession, *, item: Outbox, message_ids: list[str], now: datetime) -> None:
    outbox.settle_success(item, now=now)
    item.last_error = None
    session.add(item)
    if item.kind == outbox.CARD and item.incident_id is not None and message_ids:
        session.add(
            CardMessage(
                incident_id=item.incident_id,
                platform=item.platform,
                chat_id=item.chat_id,
                message_id=message_ids[0],
                created_at=now,
            )
        )
    if item.kind == outbox.REPLY and item.reply_id is not None:
        # Commits together with the settled item.
        await mark_reply_published(
            session, reply_id=item.reply_id, platform_message_id=",".join(message_ids) or None, now=now
        )
        return
    await session.commit()


async def record_failed(session: AsyncSession, *, item: Outbox, failure: outbox.Failure, now: datetime) -> None:
    outbox.settle_failure(item, failure, now=now)
    session.add(item)
    if item.state == OutboxState.FAILED and item.kind == outbox.REPLY and item.reply_id is not None:
        await mark_reply_failed(session, reply_id=item.reply_id, error=failure.error, now=now)
        return
    await session.commit()
