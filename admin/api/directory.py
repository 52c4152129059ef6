"""The directory over the API: sectors, staff with their Telegram invites, sources, settlements and auto-rules."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from admin.deps import MANAGERS, CurrentUser, Manager, Now, SessionDep, refused
from bot.telegram.settings import TelegramSettings
from bot.vk.settings import VkSettings
from handlers import audit, directory, settlements
from handlers.directory import RuleFields
from handlers.errors import DomainError
from handlers.routing import Routing
from handlers.vocab import SOURCE_KIND_TITLES
from storage.models import AutoRule, Role, Sector, Source, SourceKind, Staff, User
from storage.models import Settlement as SettlementRow

router = APIRouter(prefix="/api/directory", tags=["directory"])

# Who may look at the directory; managers (admin.deps.MANAGERS) change it.
READERS = MANAGERS | {Role.OFFICER}

T = TypeVar("T")


def reader(user: CurrentUser) -> User:
    if user.role not in READERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Это доступно не для вашей роли.")
    return user


Reader = Annotated[User, Depends(reader)]


async def _do(work: Awaitable[T]) -> T:
    try:
        return await work
    except DomainError as error:
        raise refused(error) from error


# Sectors and the staff chat


class SectorOut(BaseModel):
    code: str
    title: str
    position: int
    head_id: int | None
    chat_id: int | None
    active: bool


class SectorIn(BaseModel):
    head_id: int | None = None
    chat_id: int | None = None


class StaffChat(BaseModel):
    chat_id: int | None


@router.get("/sectors")
async def sectors_list(session: SessionDep, _user: Reader) -> list[SectorOut]:
    """Sectors in their order, with their heads and department chats."""
    return [SectorOut.model_validate(s.model_dump()) for s in await directory.list_sectors(session)]


@router.put("/sectors/{code}")
async def sector_update(code: str, body: SectorIn, session: SessionDep, user: Manager, now: Now) -> SectorOut:
    """Set a sector's head (who gets its cards and reminders) and its department chat (optional)."""
    audit.note(session, user=user, action="sector_changed", target=f"sector:{code}", now=now, **body.model_dump())
    sector: Sector = await _do(directory.update_sector(session, code=code, head_id=body.head_id, chat_id=body.chat_id))
    return SectorOut.model_validate(sector.model_dump())


@router.get("/staff-chat")
async def staff_chat_read(session: SessionDep, _user: Reader) -> StaffChat:
    """The МЦУ staff chat, where every incident card also appears."""
    return StaffChat(chat_id=await directory.get_staff_chat(session))


@router.put("/staff-chat")
async def staff_chat_write(body: StaffChat, session: SessionDep, user: Manager, now: Now) -> StaffChat:
    """Make a Telegram chat the МЦУ staff chat."""
    if body.chat_id is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Укажите номер чата.")
    audit.note(session, user=user, action="staff_chat_set", target="settings", now=now, chat_id=body.chat_id)
    await _do(directory.set_staff_chat(session, staff=None, chat_id=body.chat_id))
    return body


# Staff and invites


class StaffIn(BaseModel):
    full_name: str
    position: str = ""
    roles: list[str]


class StaffOut(StaffIn):
    id: int
    active: bool
    linked: bool
    telegram_username: str | None
    invite_until: datetime | None = None


class InviteOut(BaseModel):
    link: str
    expires_at: datetime


class ActiveIn(BaseModel):
    active: bool


def _staff_out(staff: Staff, invites: dict[int, datetime] | None = None) -> StaffOut:
    assert staff.id is not None
    return StaffOut(
        id=staff.id,
        full_name=staff.full_name,
        position=staff.position,
        roles=staff.roles,
        active=staff.active,
        linked=staff.telegram_id is not None,
        telegram_username=staff.telegram_username,
        invite_until=(invites or {}).get(staff.id),
    )


def bot_username() -> str | None:
    """The bot's @name for deep links, from TELEGRAM_BOT_USERNAME (.env)."""
    name = (TelegramSettings().bot_username or "").strip().lstrip("@")
    return name or None


@router.get("/staff")
async def staff_list(session: SessionDep, _user: Reader, now: Now) -> list[StaffOut]:
    """Everyone in the directory, with whether their Telegram is linked and until when an open invite is valid."""
    invites = await directory.invite_state(session, now=now)
    return [_staff_out(s, invites) for s in await directory.list_staff(session)]


@router.post("/staff", status_code=status.HTTP_201_CREATED)
async def staff_create(body: StaffIn, session: SessionDep, user: Manager, now: Now) -> StaffOut:
    """Add a person to the directory."""
    audit.note(session, user=user, action="staff_created", target="staff", now=now, **body.model_dump())
    staff = await _do(
        directory.create_staff(session, full_name=body.full_name, position=body.position, roles=body.roles)
    )
    return _staff_out(staff)


@router.put("/staff/{staff_id}")
async def staff_update(staff_id: int, body: StaffIn, session: SessionDep, user: Manager, now: Now) -> StaffOut:
    """Change a person's name, position or roles."""
    audit.note(session, user=user, action="staff_changed", target=f"staff:{staff_id}", now=now, **body.model_dump())
    staff = await _do(
        directory.update_staff(
            session, staff_id=staff_id, full_name=body.full_name, position=body.position, roles=body.roles
        )
    )
    return _staff_out(staff)


@router.put("/staff/{staff_id}/active")
async def staff_active(staff_id: int, body: ActiveIn, session: SessionDep, user: Manager, now: Now) -> StaffOut:
    """Deactivate a person who left (the bot stops treating them as staff) or bring them back."""
    action = "staff_activated" if body.active else "staff_deactivated"
    audit.note(session, user=user, action=action, target=f"staff:{staff_id}", now=now)
    return _staff_out(await _do(directory.set_staff_active(session, staff_id=staff_id, active=body.active)))


@router.post("/staff/{staff_id}/invite", status_code=status.HTTP_201_CREATED)
async def staff_invite(staff_id: int, session: SessionDep, user: Manager, now: Now) -> InviteOut:
    """A one-time Telegram link (14 days) that links the person's account to the bot; shown once."""
    username = bot_username()
    if username is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "Имя бота не задано: впишите TELEGRAM_BOT_USERNAME в .env и перезапустите сервер.",
        )
    audit.note(session, user=user, action="staff_invited", target=f"staff:{staff_id}", now=now)
    token = await _do(directory.create_invite(session, staff_id=staff_id, now=now))
    return InviteOut(link=f"https://t.me/{username}?start={token}", expires_at=now + directory.INVITE_TTL)


@router.post("/staff/{staff_id}/unlink")
async def staff_unlink(staff_id: int, session: SessionDep, user: Manager, now: Now) -> StaffOut:
    """Forget the person's Telegram account (a lost phone); they link again with a new invite."""
    audit.note(session, user=user, action="staff_unlinked", target=f"staff:{staff_id}", now=now)
    return _staff_out(await _do(directory.unlink_telegram(session, staff_id=staff_id)))


# Sources


class SourceOut(BaseModel):
    id: int
    platform: str
    kind: str
    kind_title: str
    external_id: str
    title: str
    active: bool
    ack: bool
    can_reply: bool
    keywords: str
    error: str | None
    error_at: datetime | None
    token_name: str
    token_configured: bool


class SourceIn(BaseModel):
    active: bool | None = None
    ack: bool | None = None
    can_reply: bool | None = None


def token_states() -> dict[str, tuple[str, bool]]:
    """Which .env key each kind of source needs and whether it is set (the value itself is never shown)."""
    telegram, vk = TelegramSettings(), VkSettings()
    tg = ("TELEGRAM_BOT_TOKEN", telegram.token is not None)
    return {
        SourceKind.TG_DIRECT: tg,
        SourceKind.TG_DISCUSSION: tg,
        SourceKind.TG_GROUP: tg,
        SourceKind.VK_COMMUNITY: ("VK_COMMUNITY_TOKEN", vk.community is not None),
        SourceKind.VK_USER_PAGE: ("VK_USER_TOKEN", vk.user is not None),
        SourceKind.VK_WATCHED_PUBLIC: ("VK_USER_TOKEN", vk.user is not None),
    }


def _source_out(source: Source, tokens: dict[str, tuple[str, bool]]) -> SourceOut:
    name, configured = tokens.get(source.kind, ("", False))
    data = source.model_dump()
    data.update(kind_title=SOURCE_KIND_TITLES.get(source.kind, source.kind), token_name=name)
    return SourceOut.model_validate({**data, "token_configured": configured})


@router.get("/sources")
async def sources_list(session: SessionDep, _user: Reader) -> list[SourceOut]:
    """Monitored sources with their mode, state, error and whether the token they need is configured."""
    tokens = token_states()
    return [_source_out(s, tokens) for s in await directory.list_sources(session)]


@router.patch("/sources/{source_id}")
async def source_update(source_id: int, body: SourceIn, session: SessionDep, user: Manager, now: Now) -> SourceOut:
    """Switch a source on or off (on again clears its error), its automatic reply, and answering there."""
    data = body.model_dump(exclude_none=True)
    audit.note(session, user=user, action="source_changed", target=f"source:{source_id}", now=now, **data)
    source = await _do(directory.update_source(session, source_id=source_id, **data))
    return _source_out(source, token_states())


# Settlements


class SettlementIn(BaseModel):
    name: str
    kind: str
    rural_settlement: str = ""
    lat: float
    lon: float
    aliases: list[str] = Field(default_factory=list)
    active: bool = True


class SettlementOut(SettlementIn):
    id: int


class DetectOut(BaseModel):
    settlement: str | None


@router.get("/settlements")
async def settlements_list(session: SessionDep, _user: Reader) -> list[SettlementOut]:
    """The district's gazetteer: names are recognised in any case form, aliases are other spellings."""
    return [SettlementOut.model_validate(s.model_dump()) for s in await settlements.list_settlements(session)]


@router.post("/settlements", status_code=status.HTTP_201_CREATED)
async def settlement_create(body: SettlementIn, session: SessionDep, user: Manager, now: Now) -> SettlementOut:
    """Add a settlement; new incidents recognise it at once."""
    audit.note(session, user=user, action="settlement_created", target="settlement", now=now, **body.model_dump())
    row: SettlementRow = await _do(settlements.create_settlement(session, **body.model_dump()))
    return SettlementOut.model_validate(row.model_dump())


@router.put("/settlements/{settlement_id}")
async def settlement_update(
    settlement_id: int, body: SettlementIn, session: SessionDep, user: Manager, now: Now
) -> SettlementOut:
    """Change a settlement (inactive ones are not recognised); registered incidents keep their name."""
    target = f"settlement:{settlement_id}"
    audit.note(session, user=user, action="settlement_changed", target=target, now=now, **body.model_dump())
    row = await _do(settlements.update_settlement(session, settlement_id=settlement_id, **body.model_dump()))
    return SettlementOut.model_validate(row.model_dump())


@router.put("/settlements/{settlement_id}/active")
async def settlement_active(
    settlement_id: int, body: ActiveIn, session: SessionDep, user: Manager, now: Now
) -> SettlementOut:
    """Stop recognising a settlement, or start again."""
    action = "settlement_activated" if body.active else "settlement_deactivated"
    audit.note(session, user=user, action=action, target=f"settlement:{settlement_id}", now=now)
    row = await _do(settlements.set_settlement_active(session, settlement_id=settlement_id, active=body.active))
    return SettlementOut.model_validate(row.model_dump())


@router.get("/settlements/detect")
async def settlement_detect(text: str, session: SessionDep, _user: Reader) -> DetectOut:
    """Which settlement the gazetteer finds in a text, as for a new incident."""
    return DetectOut(settlement=await settlements.recognise_settlement(session, text=text))


# Auto-rules


class RuleIn(BaseModel):
    name: str
    keywords: str = ""
    pattern: str | None = None
    source_kind: str | None = None
    sector_code: str | None = None
    not_incident: bool = False


class RuleOut(RuleIn):
    id: int
    position: int
    hits: int
    active: bool


class MoveIn(BaseModel):
    direction: Literal["up", "down"]


class RuleTestIn(BaseModel):
    keywords: str = ""
    pattern: str | None = None
    source_kind: str | None = None
    text: str


class RoutingOut(BaseModel):
    """What routing decides: by noise, a rule, the model, or triage by the officer (suggestions)."""

    classified_by: str
    sector_code: str | None
    rule_id: int | None
    confidence: float | None
    not_incident: str | None
    suggestions: list[tuple[str, float]]


class RuleTestOut(BaseModel):
    matches: bool
    routing: RoutingOut


def _rule_out(rule: AutoRule) -> RuleOut:
    return RuleOut.model_validate(rule.model_dump())


def routing_out(routing: Routing) -> RoutingOut:
    return RoutingOut(
        classified_by=routing.classified_by,
        sector_code=routing.sector_code,
        rule_id=routing.rule_id,
        confidence=routing.confidence,
        not_incident=routing.not_incident,
        suggestions=list(routing.suggestions),
    )


@router.get("/rules")
async def rules_list(session: SessionDep, _user: Reader) -> list[RuleOut]:
    """Auto-rules in the order they are tried (the first that matches decides), with their hit counts."""
    return [_rule_out(r) for r in await directory.list_rules(session)]


@router.post("/rules", status_code=status.HTTP_201_CREATED)
async def rule_create(body: RuleIn, session: SessionDep, user: Manager, now: Now) -> RuleOut:
    """Add an auto-rule at the end of the order."""
    audit.note(session, user=user, action="rule_created", target="auto_rule", now=now, **body.model_dump())
    return _rule_out(await _do(directory.create_rule(session, fields=RuleFields(**body.model_dump()))))


@router.put("/rules/{rule_id}")
async def rule_update(rule_id: int, body: RuleIn, session: SessionDep, user: Manager, now: Now) -> RuleOut:
    """Change an auto-rule (its hit count stays)."""
    audit.note(session, user=user, action="rule_changed", target=f"auto_rule:{rule_id}", now=now, **body.model_dump())
    return _rule_out(await _do(directory.update_rule(session, rule_id=rule_id, fields=RuleFields(**body.model_dump()))))


@router.put("/rules/{rule_id}/active")
async def rule_active(rule_id: int, body: ActiveIn, session: SessionDep, user: Manager, now: Now) -> RuleOut:
    """Switch an auto-rule off (or on again)."""
    action = "rule_enabled" if body.active else "rule_disabled"
    audit.note(session, user=user, action=action, target=f"auto_rule:{rule_id}", now=now)
    return _rule_out(await _do(directory.set_rule_active(session, rule_id=rule_id, active=body.active)))


@router.post("/rules/{rule_id}/move")
async def rule_move(rule_id: int, body: MoveIn, session: SessionDep, user: Manager, now: Now) -> list[RuleOut]:
    """Move an auto-rule one place up or down in the order; returns the new order."""
    audit.note(
        session, user=user, action="rule_moved", target=f"auto_rule:{rule_id}", now=now, direction=body.direction
    )
    rules = await _do(directory.move_rule(session, rule_id=rule_id, up=body.direction == "up"))
    return [_rule_out(r) for r in rules]


@router.post("/rules/test")
async def rule_test(body: RuleTestIn, session: SessionDep, _user: Reader) -> RuleTestOut:
    """Try a rule (not saved) on a text, and show what routing as it is now (rules, then the model) would decide.

    Nothing is changed: no hit is counted."""
    try:
        matches = directory.test_rule(body.keywords, body.pattern, body.text, source_kind=body.source_kind)
    except DomainError as error:
        raise refused(error) from error
    routing = await directory.preview_routing(session, text=body.text, source_kind=body.source_kind)
    return RuleTestOut(matches=matches, routing=routing_out(routing))
