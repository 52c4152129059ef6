"""The directory: staff and their Telegram links, sectors, monitored sources, the officer's staff chat."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput, NotAllowed, NotFound
from storage.models import AutoRule, Role, Sector, Setting, Source, SourceKind, Staff, StaffInvite

INVITE_TTL = timedelta(days=14)
STAFF_CHAT_KEY = "telegram_staff_chat"
COORDINATOR_ROLES = frozenset({Role.OFFICER, Role.MCU_HEAD, Role.CURATOR, Role.ADMIN})


def load_seed() -> dict[str, Any]:
    text = resources.files("storage").joinpath("seed/directory.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def seed_directory(session: AsyncSession, *, data: dict[str, Any] | None = None) -> bool:
    """Fill an empty directory from the seed (the decree's Приложение 2); leave an existing one alone."""
    if (await session.exec(select(func.count()).select_from(Sector))).one():
        return False
    data = data or load_seed()
    by_key: dict[str, Staff] = {}
    for person in data["staff"]:
        staff = Staff(full_name=person["full_name"], position=person["position"], roles=list(person["roles"]))
        session.add(staff)
        by_key[person["key"]] = staff
    await session.flush()
    for position, sector in enumerate(data["sectors"]):
        head = by_key.get(sector.get("head", ""))
        session.add(
            Sector(code=sector["code"], title=sector["title"], position=position, head_id=head.id if head else None)
        )
    await session.flush()
    for position, rule in enumerate(data["rules"]):
        session.add(
            AutoRule(
                position=(position + 1) * 10,
                name=rule["name"],
                keywords="\n".join(rule["keywords"]),
                sector_code=rule.get("sector"),
                not_incident=rule.get("not_incident", False),
            )
        )
    await session.commit()
    return True


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_invite(session: AsyncSession, *, staff_id: int, now: datetime) -> str:
    """A one-time token for the deep link `t.me/<bot>?start=<token>`; only its hash is stored."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"Сотрудник с номером {staff_id} не найден.")
    token = secrets.token_urlsafe(24)
    session.add(StaffInvite(staff_id=staff_id, token_hash=_hash_token(token), expires_at=now + INVITE_TTL))
    await session.commit()
    return token


async def link_staff(
    session: AsyncSession, *, token: str, telegram_id: int, username: str | None, now: datetime
) -> Staff:
    """Link the Telegram account that opened the deep link to the staff record of the invite."""
    invite = (await session.exec(select(StaffInvite).where(StaffInvite.token_hash == _hash_token(token)))).first()
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        raise InvalidInput("Ссылка-приглашение недействительна или уже использована. Попросите новую у администратора.")
    staff = await session.get(Staff, invite.staff_id)
    if staff is None or not staff.active:
        raise InvalidInput("Сотрудник этой ссылки больше не числится в справочнике.")
    other = (await session.exec(select(Staff).where(Staff.telegram_id == telegram_id))).first()
    if other is not None and other.id != staff.id:
        # One Telegram account is one person: move the link rather than refuse a re-issued invite.
        other.telegram_id = None
        session.add(other)
        await session.flush()
    staff.telegram_id = telegram_id
    staff.telegram_username = username
    invite.used_at = now
    session.add_all([staff, invite])
    await session.commit()
    return staff


async def staff_by_telegram(session: AsyncSession, telegram_id: int) -> Staff | None:
    staff = (await session.exec(select(Staff).where(Staff.telegram_id == telegram_id))).first()
    return staff if staff is not None and staff.active else None


async def list_staff(session: AsyncSession) -> list[Staff]:
    return list(await session.exec(select(Staff).order_by(col(Staff.id))))


async def list_sectors(session: AsyncSession) -> list[Sector]:
    rows = await session.exec(select(Sector).where(col(Sector.active).is_(True)).order_by(col(Sector.position)))
    return list(rows)


def is_coordinator(staff: Staff) -> bool:
    return bool(COORDINATOR_ROLES.intersection(staff.roles))


def _require_coordinator(staff: Staff) -> None:
    if not is_coordinator(staff):
        raise NotAllowed("Эта команда доступна ответственному за аккаунты, руководителю и куратору МЦУ.")


async def find_source(session: AsyncSession, *, platform: str, external_id: str) -> Source | None:
    """A monitored source by the platform's own id for it."""
    query = select(Source).where(Source.platform == platform, Source.external_id == external_id)
    return (await session.exec(query)).first()


async def get_staff_chat(session: AsyncSession) -> int | None:
    setting = await session.get(Setting, STAFF_CHAT_KEY)
    return int(setting.value) if setting else None


async def set_staff_chat(session: AsyncSession, *, staff: Staff | None, chat_id: int) -> None:
    """Make this chat the officer's staff chat, where every incident card also appears.

    `staff` is None when the directory itself (the command line or the admin) sets it.
    """
    if staff is not None:
        _require_coordinator(staff)
    source = await find_source(session, platform="telegram", external_id=str(chat_id))
    if source is not None and source.active:
        raise InvalidInput("Этот чат отслеживается как источник обращений; служебным он быть не может.")
    setting = await session.get(Setting, STAFF_CHAT_KEY) or Setting(key=STAFF_CHAT_KEY, value="")
    setting.value = str(chat_id)
    session.add(setting)
    await session.commit()


@dataclass(frozen=True, slots=True)
class WatchResult:
    source: Source
    created: bool


async def watch_chat(
    session: AsyncSession,
    *,
    staff: Staff | None,
    chat_id: int,
    kind: str,
    title: str,
    username: str | None = None,
) -> WatchResult:
    """Register a Telegram group as a monitored source (channel comments or a local group).

    `staff` is None when the directory itself (the command line or the admin) registers it.
    """
    if staff is not None:
        _require_coordinator(staff)
    if kind not in (SourceKind.TG_DISCUSSION, SourceKind.TG_GROUP):
        raise InvalidInput("Отслеживать можно группу обсуждения канала или местную группу.")
    if chat_id == await get_staff_chat(session):
        raise InvalidInput("Это служебный чат МЦУ; отслеживать его как источник обращений нельзя.")
    source = await find_source(session, platform="telegram", external_id=str(chat_id))
    created = source is None
    if source is None:
        source = Source(platform="telegram", kind=kind, external_id=str(chat_id))
    source.kind = kind
    source.title = title
    source.username = username
    source.active = True
    session.add(source)
    await session.commit()
    return WatchResult(source=source, created=created)


async def unwatch_chat(session: AsyncSession, *, staff: Staff, chat_id: int) -> Source:
    _require_coordinator(staff)
    source = await find_source(session, platform="telegram", external_id=str(chat_id))
    if source is None or not source.active:
        raise NotFound("Этот чат не отслеживается.")
    source.active = False
    session.add(source)
    await session.commit()
    return source


async def list_sources(session: AsyncSession) -> list[Source]:
    return list(await session.exec(select(Source).order_by(col(Source.id))))


async def set_source_ack(session: AsyncSession, *, source_id: int, ack: bool) -> Source:
    """Whether citizens of this source get an automatic reply with their incident number."""
    source = await session.get(Source, source_id)
    if source is None:
        raise NotFound(f"Источник с номером {source_id} не найден.")
    source.ack = ack
    session.add(source)
    await session.commit()
    return source
