"""Pages: the directory (sectors, staff and invites, sources, settlements, auto-rules), and what the admin's
editing pages share: role refusals as a Russian page, API refusals as the form's error, redirects with a notice."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from collections.abc import Awaitable, Collection
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.api import directory as api
from admin.deps import MANAGERS, CurrentUser, Now, SessionDep
from admin.web.common import render
from handlers import directory, settlements
from handlers.vocab import ROLE_TITLES, SOURCE_KIND_TITLES
from storage.models import Role, User

router = APIRouter(include_in_schema=False)

T = TypeVar("T")

TABS = {
    "sectors": "Блоки",
    "staff": "Сотрудники",
    "sources": "Источники",
    "settlements": "Населённые пункты",
    "rules": "Автоправила",
}
DONE = {
    "sector": "Блок сохранён.",
    "staff_chat": "Служебный чат сохранён.",
    "staff": "Сотрудник сохранён.",
    "staff_active": "Состояние сотрудника изменено.",
    "unlinked": "Telegram сотрудника отвязан: для нового входа нужна новая ссылка.",
    "source": "Источник сохранён.",
    "settlement": "Населённый пункт сохранён: новые инциденты распознают его сразу.",
    "settlement_active": "Состояние населённого пункта изменено.",
    "rule": "Правило сохранено.",
    "rule_active": "Состояние правила изменено.",
    "rule_moved": "Порядок правил изменён.",
}
CLASSIFIED_BY = {
    "noise": "очевидно не обращение",
    "rule": "автоправило",
    "model": "модель",
    "default": "по умолчанию",
}


# Shared by the admin's editing pages (directory, deadlines, users).


def refuse_page(request: Request, template: str, title: str) -> Response:
    """A role that may not open this page: a Russian refusal in the admin's frame, status 403."""
    return render(request, template, status_code=status.HTTP_403_FORBIDDEN, denied=True, title=title)


def may(user: User, roles: Collection[str]) -> bool:
    return user.role in roles


async def attempt(session: AsyncSession, user: User, work: Awaitable[T]) -> T | str:
    """Run an API action; a refusal comes back as its Russian sentence, and the session forgets the attempt
    (its audit entry too). The logged-in user is read again for the page that shows the refusal."""
    try:
        return await work
    except HTTPException as error:
        await session.rollback()
        await session.refresh(user)
        return str(error.detail)


def back(url: str, done: str) -> Response:
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}done={done}", status.HTTP_303_SEE_OTHER)


def optional_int(value: str, what: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{what}: нужно целое число.") from None


def number(value: str, what: str) -> float:
    try:
        return float(value.strip().replace(",", "."))
    except ValueError:
        raise ValueError(f"{what}: нужно число, например 52,4458.") from None


# The directory.

READERS = api.READERS
TITLE = "Справочник"


async def _page(
    request: Request,
    session: SessionDep,
    user: User,
    *,
    tab: str,
    now: Any,
    error: str = "",
    done: str = "",
    status_code: int = 200,
    **extra: Any,
) -> Response:
    tab = tab if tab in TABS else "sectors"
    context: dict[str, Any] = {}
    if tab == "rules":
        form = extra.setdefault("rule_form", {})
        edit = request.query_params.get("edit", "")
        if edit.isdigit() and not form:
            found = next((r for r in await directory.list_rules(session) if r.id == int(edit)), None)
            if found is not None:
                form.update(found.model_dump(), rule_id=found.id)
        context.update(rules=await directory.list_rules(session))
    sectors = await directory.list_sectors(session)
    staff = await directory.list_staff(session)
    context.update(
        sectors=sectors,
        sector_titles={s.code: s.title for s in sectors},
        staff=staff,
        staff_names={s.id: s.full_name for s in staff},
    )
    if tab == "sectors":
        context.update(staff_chat=await directory.get_staff_chat(session))
    elif tab == "staff":
        context.update(invites=await directory.invite_state(session, now=now), bot_username=api.bot_username())
    elif tab == "sources":
        context.update(sources=await api.sources_list(session, user))
    elif tab == "settlements":
        context.update(settlements=await settlements.list_settlements(session), kinds=settlements.KINDS)
    return render(
        request,
        "directory.html",
        status_code=status_code,
        title=TITLE,
        tabs=TABS,
        tab=tab,
        can_edit=user.role in MANAGERS,
        error=error,
        notice=DONE.get(done, ""),
        roles=list(Role),
        role_titles=ROLE_TITLES,
        kind_titles=SOURCE_KIND_TITLES,
        classified_by=CLASSIFIED_BY,
        **context,
        **extra,
    )


async def _finish(
    request: Request, session: SessionDep, user: User, now: Any, tab: str, result: object, done: str, **extra: Any
) -> Response:
    if isinstance(result, str):
        return await _page(request, session, user, tab=tab, now=now, error=result, status_code=422, **extra)
    return back(f"/directory?tab={tab}", done)


@router.get("/directory")
async def directory_page(
    request: Request, session: SessionDep, user: CurrentUser, now: Now, tab: str = "sectors", done: str = ""
) -> Response:
    if not may(user, READERS):
        return refuse_page(request, "directory.html", TITLE)
    return await _page(request, session, user, tab=tab, now=now, done=done)


@router.post("/directory/sectors/{code}")
async def sector_save(
    request: Request,
    code: str,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    head_id: Annotated[str, Form()] = "",
    chat_id: Annotated[str, Form()] = "",
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    try:
        body = api.SectorIn(head_id=optional_int(head_id, "Руководитель"), chat_id=optional_int(chat_id, "Чат блока"))
    except ValueError as error:
        return await _finish(request, session, user, now, "sectors", str(error), "")
    result = await attempt(session, user, api.sector_update(code, body, session, user, now))
    return await _finish(request, session, user, now, "sectors", result, "sector")


@router.post("/directory/staff-chat")
async def staff_chat_save(
    request: Request, session: SessionDep, user: CurrentUser, now: Now, chat_id: Annotated[str, Form()] = ""
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    try:
        body = api.StaffChat(chat_id=optional_int(chat_id, "Служебный чат"))
    except ValueError as error:
        return await _finish(request, session, user, now, "sectors", str(error), "")
    result = await attempt(session, user, api.staff_chat_write(body, session, user, now))
    return await _finish(request, session, user, now, "sectors", result, "staff_chat")


def _staff_form(
    full_name: Annotated[str, Form()] = "",
    position: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> api.StaffIn:
    """The staff form of adding and of saving."""
    return api.StaffIn(full_name=full_name, position=position, roles=roles or [])


StaffForm = Annotated[api.StaffIn, Depends(_staff_form)]


def _active_form(active: Annotated[bool, Form()] = False) -> api.ActiveIn:
    """The switch of a staff member, a settlement or a rule (an unticked box sends nothing: off)."""
    return api.ActiveIn(active=active)


ActiveForm = Annotated[api.ActiveIn, Depends(_active_form)]


@router.post("/directory/staff")
async def staff_add(request: Request, session: SessionDep, user: CurrentUser, now: Now, body: StaffForm) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.staff_create(body, session, user, now))
    return await _finish(request, session, user, now, "staff", result, "staff")


@router.post("/directory/staff/{staff_id}")
async def staff_save(
    request: Request, staff_id: int, session: SessionDep, user: CurrentUser, now: Now, body: StaffForm
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.staff_update(staff_id, body, session, user, now))
    return await _finish(request, session, user, now, "staff", result, "staff")


@router.post("/directory/staff/{staff_id}/active")
async def staff_active(
    request: Request, staff_id: int, session: SessionDep, user: CurrentUser, now: Now, body: ActiveForm
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.staff_active(staff_id, body, session, user, now))
    return await _finish(request, session, user, now, "staff", result, "staff_active")


@router.post("/directory/staff/{staff_id}/invite")
async def staff_invite(request: Request, staff_id: int, session: SessionDep, user: CurrentUser, now: Now) -> Response:
    """The link is shown on the page once, never put in an address (it would stay in the browser's history)."""
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.staff_invite(staff_id, session, user, now))
    if isinstance(result, str):
        return await _page(request, session, user, tab="staff", now=now, error=result, status_code=422)
    return await _page(request, session, user, tab="staff", now=now, invite=result, invite_staff_id=staff_id)


@router.post("/directory/staff/{staff_id}/unlink")
async def staff_unlink(request: Request, staff_id: int, session: SessionDep, user: CurrentUser, now: Now) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.staff_unlink(staff_id, session, user, now))
    return await _finish(request, session, user, now, "staff", result, "unlinked")


@router.post("/directory/sources/{source_id}")
async def source_save(
    request: Request,
    source_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    active: Annotated[bool, Form()] = False,
    ack: Annotated[bool, Form()] = False,
    can_reply: Annotated[bool, Form()] = False,
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    body = api.SourceIn(active=active, ack=ack, can_reply=can_reply)
    result = await attempt(session, user, api.source_update(source_id, body, session, user, now))
    return await _finish(request, session, user, now, "sources", result, "source")


def _settlement(
    name: str, kind: str, rural_settlement: str, lat: str, lon: str, aliases: str, active: bool
) -> api.SettlementIn:
    return api.SettlementIn(
        name=name,
        kind=kind,
        rural_settlement=rural_settlement,
        lat=number(lat, "Широта"),
        lon=number(lon, "Долгота"),
        aliases=[a.strip() for a in aliases.replace("\n", ",").split(",") if a.strip()],
        active=active,
    )


@router.post("/directory/settlements")
async def settlement_add(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    rural_settlement: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    aliases: Annotated[str, Form()] = "",
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    form = {"name": name, "kind": kind, "rural_settlement": rural_settlement, "lat": lat, "lon": lon}
    form["aliases"] = aliases  # kept on every refusal, so nothing typed is lost
    try:
        body = _settlement(name, kind, rural_settlement, lat, lon, aliases, True)
    except ValueError as error:
        return await _finish(request, session, user, now, "settlements", str(error), "", new_settlement=form)
    result = await attempt(session, user, api.settlement_create(body, session, user, now))
    return await _finish(request, session, user, now, "settlements", result, "settlement", new_settlement=form)


@router.post("/directory/settlements/{settlement_id}")
async def settlement_save(
    request: Request,
    settlement_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    rural_settlement: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    aliases: Annotated[str, Form()] = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    try:
        body = _settlement(name, kind, rural_settlement, lat, lon, aliases, active)
    except ValueError as error:
        return await _finish(request, session, user, now, "settlements", str(error), "")
    result = await attempt(session, user, api.settlement_update(settlement_id, body, session, user, now))
    return await _finish(request, session, user, now, "settlements", result, "settlement")


@router.post("/directory/settlements/{settlement_id}/active")
async def settlement_active(
    request: Request, settlement_id: int, session: SessionDep, user: CurrentUser, now: Now, body: ActiveForm
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.settlement_active(settlement_id, body, session, user, now))
    return await _finish(request, session, user, now, "settlements", result, "settlement_active")


RuleForm = dict[str, Any]


def _rule_form(
    rule_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    keywords: Annotated[str, Form()] = "",
    pattern: Annotated[str, Form()] = "",
    source_kind: Annotated[str, Form()] = "",
    sector_code: Annotated[str, Form()] = "",
    not_incident: Annotated[bool, Form()] = False,
    sample: Annotated[str, Form()] = "",
) -> RuleForm:
    """The rule form as typed, shared by saving and checking (the page shows it again as it was)."""
    return {
        "rule_id": int(rule_id) if rule_id.isdigit() else None,
        "name": name,
        "keywords": keywords,
        "pattern": pattern,
        "source_kind": source_kind,
        "sector_code": sector_code,
        "not_incident": not_incident,
        "sample": sample,
    }


RuleFormDep = Annotated[RuleForm, Depends(_rule_form)]


def _rule_in(form: RuleForm) -> api.RuleIn:
    return api.RuleIn(
        name=form["name"],
        keywords=form["keywords"],
        pattern=form["pattern"] or None,
        source_kind=form["source_kind"] or None,
        sector_code=form["sector_code"] or None,
        not_incident=form["not_incident"],
    )


@router.post("/directory/rules")
async def rule_save(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    form: RuleFormDep,
) -> Response:
    """Add a rule, or change the one named by `rule_id` (one form does both, with its «Проверить» box)."""
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    body = _rule_in(form)
    if form["rule_id"]:
        result: object = await attempt(session, user, api.rule_update(form["rule_id"], body, session, user, now))
    else:
        result = await attempt(session, user, api.rule_create(body, session, user, now))
    return await _finish(request, session, user, now, "rules", result, "rule", rule_form=form)


@router.post("/directory/rules/test")
async def rule_check(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    form: RuleFormDep,
) -> Response:
    """Try the rule of the form on a text before saving it; nothing is kept."""
    if not may(user, READERS):
        return refuse_page(request, "directory.html", TITLE)
    if not form["sample"].strip():
        return await _page(
            request, session, user, tab="rules", now=now, error="Впишите текст для проверки.", rule_form=form
        )
    body = api.RuleTestIn(
        keywords=form["keywords"],
        pattern=form["pattern"] or None,
        source_kind=form["source_kind"] or None,
        text=form["sample"],
    )
    result = await attempt(session, user, api.rule_test(body, session, user))
    if isinstance(result, str):
        return await _page(request, session, user, tab="rules", now=now, error=result, rule_form=form, status_code=422)
    return await _page(request, session, user, tab="rules", now=now, rule_form=form, test=result)


@router.post("/directory/rules/{rule_id}/active")
async def rule_active(
    request: Request, rule_id: int, session: SessionDep, user: CurrentUser, now: Now, body: ActiveForm
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    result = await attempt(session, user, api.rule_active(rule_id, body, session, user, now))
    return await _finish(request, session, user, now, "rules", result, "rule_active")


@router.post("/directory/rules/{rule_id}/move")
async def rule_move(
    request: Request,
    rule_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    direction: Annotated[str, Form()] = "up",
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "directory.html", TITLE)
    body = api.MoveIn(direction="down" if direction == "down" else "up")
    result = await attempt(session, user, api.rule_move(rule_id, body, session, user, now))
    return await _finish(request, session, user, now, "rules", result, "rule_moved")
