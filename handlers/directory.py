"""The directory: staff and their Telegram links, sectors, monitored sources, the officer's staff chat."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput, NotAllowed, NotFound
from handlers.routing import Routing, route_text, rule_matches, split_keywords
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


# Editing the directory from the admin. Each function is one transaction; the caller adds its audit entry first.


async def _sector(session: AsyncSession, code: str) -> Sector:
    sector = await session.get(Sector, code)
    if sector is None:
        raise NotFound(f"Блок «{code}» не найден.")
    return sector


async def _staff(session: AsyncSession, staff_id: int) -> Staff:
    staff = await session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"Сотрудник с номером {staff_id} не найден.")
    return staff


async def update_sector(session: AsyncSession, *, code: str, head_id: int | None, chat_id: int | None) -> Sector:
    """Who heads a sector (gets its cards and reminders) and its optional department chat."""
    sector = await _sector(session, code)
    if head_id is not None and not (await _staff(session, head_id)).active:
        raise InvalidInput("Руководителем блока может быть только действующий сотрудник.")
    if chat_id is not None and chat_id == await get_staff_chat(session):
        raise InvalidInput("Это служебный чат МЦУ; чатом блока он быть не может.")
    sector.head_id, sector.chat_id = head_id, chat_id
    session.add(sector)
    await session.commit()
    return sector


def _check_staff(full_name: str, roles: list[str]) -> None:
    if not full_name.strip():
        raise InvalidInput("Укажите ФИО сотрудника.")
    unknown = [r for r in roles if r not in set(Role)]
    if unknown:
        raise InvalidInput(f"Неизвестная роль «{unknown[0]}».")
    if not roles:
        raise InvalidInput("Укажите хотя бы одну роль сотрудника.")


async def create_staff(session: AsyncSession, *, full_name: str, position: str = "", roles: list[str]) -> Staff:
    """Add a person to the directory; they link their Telegram with an invite."""
    _check_staff(full_name, roles)
    staff = Staff(full_name=full_name.strip(), position=position.strip(), roles=list(dict.fromkeys(roles)))
    session.add(staff)
    await session.commit()
    return staff


async def update_staff(
    session: AsyncSession, *, staff_id: int, full_name: str, position: str = "", roles: list[str]
) -> Staff:
    staff = await _staff(session, staff_id)
    _check_staff(full_name, roles)
    staff.full_name, staff.position, staff.roles = full_name.strip(), position.strip(), list(dict.fromkeys(roles))
    session.add(staff)
    await session.commit()
    return staff


async def set_staff_active(session: AsyncSession, *, staff_id: int, active: bool) -> Staff:
    """Deactivate a person who left (the bot no longer knows them) or bring them back."""
    staff = await _staff(session, staff_id)
    if not active:
        headed = (await session.exec(select(Sector).where(Sector.head_id == staff_id, col(Sector.active)))).first()
        if headed is not None:
            raise InvalidInput(f"Сначала назначьте другого руководителя блока «{headed.title}».")
    staff.active = active
    session.add(staff)
    await session.commit()
    return staff


async def unlink_telegram(session: AsyncSession, *, staff_id: int) -> Staff:
    """Forget the person's Telegram account (a lost phone): they link again with a new invite."""
    staff = await _staff(session, staff_id)
    staff.telegram_id, staff.telegram_username = None, None
    session.add(staff)
    await session.commit()
    return staff


async def invite_state(session: AsyncSession, *, now: datetime) -> dict[int, datetime]:
    """Until when each person's newest unused invite is valid, for those who have one."""
    rows = await session.exec(
        select(StaffInvite).where(col(StaffInvite.used_at).is_(None), StaffInvite.expires_at > now)
    )
    latest: dict[int, datetime] = {}
    for invite in rows:
        latest[invite.staff_id] = max(latest.get(invite.staff_id, invite.expires_at), invite.expires_at)
    return latest


async def update_source(
    session: AsyncSession,
    *,
    source_id: int,
    active: bool | None = None,
    ack: bool | None = None,
    can_reply: bool | None = None,
) -> Source:
    """Switch a monitored source on or off, its automatic reply with the number, and whether we answer there.

    Switching a stopped source on clears its error, so that it is tried again (after the token was replaced)."""
    source = await session.get(Source, source_id)
    if source is None:
        raise NotFound(f"Источник с номером {source_id} не найден.")
    if active:
        if source.platform == "telegram" and source.external_id == str(await get_staff_chat(session)):
            raise InvalidInput("Это служебный чат МЦУ; отслеживать его как источник обращений нельзя.")
        source.error, source.error_at = None, None
    if active is not None:
        source.active = active
    if ack is not None:
        source.ack = ack
    if can_reply is not None:
        source.can_reply = can_reply
    session.add(source)
    await session.commit()
    return source


async def list_rules(session: AsyncSession) -> list[AutoRule]:
    """Auto-rules in the order they are tried."""
    return list(await session.exec(select(AutoRule).order_by(col(AutoRule.position), col(AutoRule.id))))


@dataclass(frozen=True, slots=True)
class RuleFields:
    name: str
    keywords: str = ""
    pattern: str | None = None
    source_kind: str | None = None
    sector_code: str | None = None
    not_incident: bool = False


def _check_pattern(keywords: str, pattern: str | None) -> None:
    if not split_keywords(keywords) and not pattern:
        raise InvalidInput("Нужны ключевые слова (по одному в строке) или регулярное выражение.")
    if pattern:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as error:
            raise InvalidInput(f"Регулярное выражение не разбирается: {error}.") from error


async def _check_rule(session: AsyncSession, fields: RuleFields) -> RuleFields:
    if not fields.name.strip():
        raise InvalidInput("Укажите название правила.")
    pattern = (fields.pattern or "").strip() or None
    _check_pattern(fields.keywords, pattern)
    if fields.source_kind and fields.source_kind not in set(SourceKind):
        raise InvalidInput("Неизвестный вид источника.")
    sector = None if fields.not_incident else fields.sector_code or None
    if not fields.not_incident:
        if sector is None:
            raise InvalidInput("Выберите блок, куда правило направляет сообщение, или отметьте «не инцидент».")
        if await session.get(Sector, sector) is None:
            raise InvalidInput("Такого блока нет в справочнике.")
    keywords = "\n".join(line.strip() for line in fields.keywords.splitlines() if line.strip())
    return RuleFields(
        name=fields.name.strip(),
        keywords=keywords,
        pattern=pattern,
        source_kind=fields.source_kind or None,
        sector_code=sector,
        not_incident=fields.not_incident,
    )


async def create_rule(session: AsyncSession, *, fields: RuleFields) -> AutoRule:
    """Add an auto-rule at the end of the order."""
    clean = await _check_rule(session, fields)
    last = (await session.exec(select(func.max(AutoRule.position)))).one()
    rule = AutoRule(position=(last or 0) + 10, **_rule_values(clean))
    session.add(rule)
    await session.commit()
    return rule


def _rule_values(fields: RuleFields) -> dict[str, Any]:
    return {
        "name": fields.name,
        "keywords": fields.keywords,
        "pattern": fields.pattern,
        "source_kind": fields.source_kind,
        "sector_code": fields.sector_code,
        "not_incident": fields.not_incident,
    }


async def _rule(session: AsyncSession, rule_id: int) -> AutoRule:
    rule = await session.get(AutoRule, rule_id)
    if rule is None:
        raise NotFound(f"Правило с номером {rule_id} не найдено.")
    return rule


async def update_rule(session: AsyncSession, *, rule_id: int, fields: RuleFields) -> AutoRule:
    """Change an auto-rule; its hit count stays."""
    rule = await _rule(session, rule_id)
    rule.sqlmodel_update(_rule_values(await _check_rule(session, fields)))
    session.add(rule)
    await session.commit()
    return rule


async def set_rule_active(session: AsyncSession, *, rule_id: int, active: bool) -> AutoRule:
    rule = await _rule(session, rule_id)
    rule.active = active
    session.add(rule)
    await session.commit()
    return rule


async def move_rule(session: AsyncSession, *, rule_id: int, up: bool) -> list[AutoRule]:
    """Swap a rule with its neighbour in the order (the first matching rule decides); positions become 10, 20…"""
    rules = await list_rules(session)
    index = next((i for i, r in enumerate(rules) if r.id == rule_id), None)
    if index is None:
        raise NotFound(f"Правило с номером {rule_id} не найдено.")
    other = index - 1 if up else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    for position, rule in enumerate(rules, start=1):
        rule.position = position * 10
        session.add(rule)
    await session.commit()
    return rules


def test_rule(keywords: str, pattern: str | None, text: str, *, source_kind: str | None = None) -> bool:
    """Whether a rule with these keywords and pattern (not saved) would fire on the text."""
    pattern = (pattern or "").strip() or None
    _check_pattern(keywords, pattern)
    draft = AutoRule(name="", keywords=keywords, pattern=pattern, source_kind=source_kind or None)
    return rule_matches(draft, text, source_kind=source_kind or None)


test_rule.__test__ = False  # type: ignore[attr-defined]  # a helper named by the brief, not a pytest test


async def preview_routing(session: AsyncSession, *, text: str, source_kind: str | None = None) -> Routing:
    """What routing (noise, the saved rules, then the model) would decide for this text now; nothing is kept
    (a matching rule's hit count is not raised)."""
    routing = await route_text(session, text=text, source_kind=source_kind or None)
    rule = await session.get(AutoRule, routing.rule_id) if routing.rule_id is not None else None
    if rule is not None:
        session.expire(rule, ["hits"])  # drops the unflushed +1 that routing made
    return routing
