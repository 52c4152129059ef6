"""The audit trail of the admin: who changed what, and when. Entries are only ever added."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditEntry, User


def note(session: AsyncSession, *, user: User, action: str, target: str, now: datetime, **data: Any) -> None:
    """Add an entry to the transaction that makes the change: if the change fails, so does its entry."""
    session.add(AuditEntry(at=now, user_id=user.id, login=user.login, action=action, target=target, data=data))


async def entries(session: AsyncSession, *, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit).offset(offset)
    return list(await session.exec(query))
