"""Monitored sources at work: their read positions, events waiting to be processed, and stopping on fatal errors."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.directory import find_source, get_staff_chat
from handlers.errors import InvalidInput, NotFound
from handlers.routing import normalize, split_keywords
from storage.models import Cursor, Inbox, Source, SourceKind

log = logging.getLogger(__name__)

VK_KINDS = (SourceKind.VK_COMMUNITY, SourceKind.VK_USER_PAGE, SourceKind.VK_WATCHED_PUBLIC)


async def get_cursor(session: AsyncSession, *, source_id: int, key: str) -> str | None:
    cursor = await session.get(Cursor, (source_id, key))
    return cursor.value if cursor else None


async def set_cursor(session: AsyncSession, *, source_id: int, key: str, value: str, now: datetime) -> None:
    """Remember a read position; called after what was read is committed, so a restart re-reads, never skips."""
    cursor = await session.get(Cursor, (source_id, key)) or Cursor(
        source_id=source_id, key=key, value=value, updated_at=now
    )
    cursor.value, cursor.updated_at = value, now
    session.add(cursor)
    await session.commit()


async def active_sources(session: AsyncSession, *, kinds: tuple[str, ...]) -> list[Source]:
    rows = await session.exec(
        select(Source)
        .where(col(Source.kind).in_(kinds), col(Source.active).is_(True), col(Source.error).is_(None))
        .order_by(col(Source.id))
    )
    return list(rows)


async def register_vk_source(
    session: AsyncSession,
    *,
    kind: str,
    owner_id: int,
    title: str = "",
    keywords: str = "",
    can_reply: bool | None = None,
) -> Source:
    """Add (or update) a VK community, the head of district's page, or a watched public in the directory."""
    if kind not in VK_KINDS:
        raise InvalidInput("Источник VK: сообщество администрации, страница главы или местный паблик.")
    if kind == SourceKind.VK_COMMUNITY and owner_id <= 0:
        raise InvalidInput("Номер сообщества VK — положительное число (без минуса).")
    source = await find_source(session, platform="vk", external_id=str(owner_id))
    if source is None:
        # Only the administration's community answers in dialogs by default; publics belong to others.
        source = Source(platform="vk", kind=kind, external_id=str(owner_id), ack=kind == SourceKind.VK_COMMUNITY)
        source.can_reply = kind != SourceKind.VK_WATCHED_PUBLIC
    source.kind, source.active, source.error, source.error_at = kind, True, None, None
    if title:
        source.title = title
    source.keywords = keywords
    if can_reply is not None:
        source.can_reply = can_reply
    session.add(source)
    await session.commit()
    return source


def mentions_keywords(source: Source, text: str) -> bool:
    """A watched public's message is ours only if it names the district or a settlement (when keywords are set)."""
    stems = split_keywords(source.keywords)
    if not stems:
        return True
    words = normalize(text)
    return any(f" {stem}" in words for stem in stems)


async def suspend_source(session: AsyncSession, *, source_id: int, error: str, now: datetime) -> None:
    """Stop a source that cannot work (revoked token, no access) and tell the staff chat why."""
    source = await session.get(Source, source_id)
    if source is None:
        raise NotFound(f"Источник с номером {source_id} не найден.")
    if source.error is not None:
        return
    source.error, source.error_at = error[:2000], now
    session.add(source)
    chat = await get_staff_chat(session)
    if chat is not None:
        outbox.enqueue(session, kind=outbox.SOURCE_FAILED, chat_id=chat, payload={"source_id": source_id}, now=now)
    await session.commit()
    log.error("source %s (%s %s) stopped: %s", source.id, source.kind, source.external_id, error)


async def store_inbox(
    session: AsyncSession, *, platform: str, event_id: str, payload: dict[str, Any], now: datetime
) -> bool:
    """Keep an acknowledged event until it is processed; False if this event was already received."""
    session.add(Inbox(platform=platform, event_id=event_id, payload=payload, received_at=now))
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def pending_inbox(session: AsyncSession, *, platform: str, limit: int = 100) -> list[Inbox]:
    rows = await session.exec(
        select(Inbox)
        .where(Inbox.platform == platform, col(Inbox.processed_at).is_(None), Inbox.attempts < 10)
        .order_by(col(Inbox.id))
        .limit(limit)
    )
    return list(rows)


async def settle_inbox(session: AsyncSession, *, inbox_id: int, now: datetime, error: str | None = None) -> None:
    item = await session.get(Inbox, inbox_id)
    if item is None:
        return
    item.attempts += 1
    if error is None:
        item.processed_at, item.error = now, None
    else:
        item.error = error[:2000]
    session.add(item)
    await session.commit()
