"""Outbox intents: written with the change behind them, claimed and settled by the delivery worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import CardMessage, Outbox, OutboxState

# Kinds of intent. The adapter renders each one; handlers only say what and to whom.
CARD = "card"  # post an incident card to a staff chat
CARD_UPDATE = "card_update"  # edit a posted card in place (payload: card_message_id)
ACK = "ack"  # tell the citizen the incident number
SURVEY = "survey"  # ask the citizen, once, whether the problem is solved and to rate the answer
UNSOLVED = "unsolved"  # the citizen says the problem is not solved: the incident is back in work
PROMPT = "prompt"  # the citizen only said hello in a dialog: ask what happened and where
REPLY = "reply"  # publish a staff answer where the citizen wrote
FOLLOWUP = "followup"  # show a citizen's follow-up to the assignee (payload: message_id)
PROBLEM_REPORT = "problem_report"  # one more report of the problem the incident leads (payload: message_id, report)
REMINDER = "reminder"  # the deadline is near
ESCALATION = "escalation"  # the deadline has passed
DIGEST = "digest"  # the morning list of overdue and due-today incidents (payload: incidents)
REPLY_FAILED = "reply_failed"  # an answer could not be published
SOURCE_FAILED = "source_failed"  # a monitored source stopped (payload: source_id)

MAX_ATTEMPTS = 12


def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    chat_id: str | int,
    now: datetime,
    incident_id: int | None = None,
    reply_id: int | None = None,
    payload: dict[str, Any] | None = None,
    platform: str = "telegram",
) -> Outbox:
    item = Outbox(
        kind=kind,
        platform=platform,
        chat_id=str(chat_id),
        incident_id=incident_id,
        reply_id=reply_id,
        payload=payload or {},
        next_try_at=now,
        created_at=now,
    )
    session.add(item)
    return item


async def enqueue_card_updates(session: AsyncSession, *, incident_id: int, now: datetime) -> None:
    """Ask for every posted card of the incident to be redrawn; cards still queued render fresh anyway."""
    cards = await session.exec(select(CardMessage).where(CardMessage.incident_id == incident_id))
    for card in cards:
        enqueue(
            session,
            kind=CARD_UPDATE,
            chat_id=card.chat_id,
            platform=card.platform,
            incident_id=incident_id,
            payload={"card_message_id": card.id, "message_id": card.message_id},
            now=now,
        )


async def is_superseded(session: AsyncSession, item: Outbox) -> bool:
    """A card redraw with a newer one queued for the same card need not be sent: the newer one shows it all."""
    if item.kind != CARD_UPDATE:
        return False
    newer = await session.exec(
        select(Outbox.payload).where(
            Outbox.incident_id == item.incident_id,
            Outbox.kind == CARD_UPDATE,
            Outbox.state == OutboxState.PENDING,
            col(Outbox.id) > item.id,
        )
    )
    return any(p.get("card_message_id") == item.payload.get("card_message_id") for p in newer)


async def due_items(session: AsyncSession, *, platform: str, now: datetime, limit: int) -> list[Outbox]:
    rows = await session.exec(
        select(Outbox)
        .where(Outbox.platform == platform, Outbox.state == OutboxState.PENDING, Outbox.next_try_at <= now)
        .order_by(col(Outbox.id))
        .limit(limit)
    )
    return list(rows)


async def next_due_at(session: AsyncSession, *, platform: str) -> datetime | None:
    rows = await session.exec(
        select(Outbox.next_try_at)
        .where(Outbox.platform == platform, Outbox.state == OutboxState.PENDING)
        .order_by(col(Outbox.next_try_at))
        .limit(1)
    )
    return rows.first()


@dataclass(frozen=True, slots=True)
class Failure:
    error: str
    permanent: bool = False
    retry_after: float | None = None


def settle_failure(item: Outbox, failure: Failure, *, now: datetime) -> None:
    """Record a failed try: wait what the platform asked, back off on errors, give up when it is hopeless."""
    item.last_error = failure.error[:2000]
    if failure.retry_after is not None:
        # A rate-limit answer is not the item's fault: it does not count as an attempt.
        item.next_try_at = now + timedelta(seconds=failure.retry_after)
        return
    item.attempts += 1
    if failure.permanent or item.attempts >= MAX_ATTEMPTS:
        item.state = OutboxState.FAILED
        return
    item.next_try_at = now + timedelta(seconds=min(2**item.attempts, 600))


def settle_success(item: Outbox, *, now: datetime) -> None:
    item.state = OutboxState.SENT
    item.sent_at = now
    item.attempts += 1
