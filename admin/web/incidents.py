"""Pages: the incident list (filters, search, sorting, pages) and the incident card with the Telegram card's actions."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import math
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.api.incidents import (
    ACTIONS,
    MAX_EXTENSION_DAYS,
    IncidentDetail,
    IncidentFilters,
    act,
    filter_choices,
    find_incidents,
    incident_detail_of,
    is_overdue,
)
from admin.deps import CurrentUser, Now, SessionDep
from admin.web.common import render
from handlers.deadlines import CHASED
from handlers.directory import list_sectors, list_sources, list_staff
from handlers.errors import DomainError
from handlers.incidents import TRANSITIONS, check_may_act
from handlers.noise import REASON_TITLES
from handlers.vocab import ATTACHMENT_TITLES, PHASE_TITLES, REPLY_STATES, SOURCE_KIND_TITLES, TRACK_TITLES
from storage.models import OPEN_STATUSES, Staff, Status, User

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
FILTER_FIELDS = ("status", "sector", "source", "settlement", "assignee", "overdue", "from", "to", "q", "sort")

# What the card says after an action (?done=…).
DONE = {
    "accept": "Инцидент принят в работу.",
    "answer": "Окончательный ответ принят и публикуется там, где писал житель.",
    "interim": "Промежуточный ответ принят и публикуется; теперь идёт срок окончательного ответа.",
    "reassign": "Инцидент передан в другой блок.",
    "reject": "Инцидент отмечен «не инцидент».",
    "close": "Инцидент закрыт.",
    "reopen": "Инцидент снова в работе.",
    "wait": "Срок приостановлен: ждём ответа жителя.",
    "resume": "Срок снова идёт.",
    "extend": "Срок продлён.",
    "urgent": "Срочность изменена.",
    "track": "Порядок рассмотрения изменён.",
}
BAD_DATE = "Дата периода не распознана: нужна дата вида ГГГГ-ММ-ДД."


def _date(value: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(BAD_DATE)
        return None


def parse_filters(params: dict[str, str], errors: list[str]) -> IncidentFilters:
    """The list's GET parameters, forgiving: a value that makes no sense is left out and said so."""
    sort = params.get("sort", "new")
    assignee = params.get("assignee", "")
    return IncidentFilters.model_validate(
        {
            "status": [params["status"]] if params.get("status") else [],
            "sector": params.get("sector") or None,
            "source": params.get("source") or None,
            "settlement": params.get("settlement") or None,
            "assignee": int(assignee) if assignee.isdigit() else None,
            "overdue": params.get("overdue") == "1",
            "from": _date(params.get("from", ""), errors),
            "to": _date(params.get("to", ""), errors),
            "q": params.get("q", "").strip()[:200],
            "sort": sort if sort in ("new", "old", "due", "updated") else "new",
        }
    )


def _query(params: dict[str, str], **changes: str | int | None) -> str:
    kept = {k: v for k, v in params.items() if k in FILTER_FIELDS and v}
    kept.update({k: str(v) for k, v in changes.items() if v})
    for key in [k for k, v in changes.items() if not v]:
        kept.pop(key, None)
    return urlencode(kept)


@router.get("/incidents")
async def incidents_page(request: Request, session: SessionDep, user: CurrentUser, now: Now) -> Response:
    params = {k: v for k, v in request.query_params.items() if k in (*FILTER_FIELDS, "page")}
    errors: list[str] = []
    filters = parse_filters(params, errors)
    page_text = params.get("page", "1")
    page = max(int(page_text), 1) if page_text.isdigit() else 1
    code = status.HTTP_200_OK
    try:
        rows, total = await find_incidents(
            session, user, filters, now=now, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    except HTTPException as error:
        errors.append(str(error.detail))
        rows, total, code = [], 0, status.HTTP_422_UNPROCESSABLE_CONTENT
    pages = max(math.ceil(total / PAGE_SIZE), 1)
    return render(
        request,
        "incidents.html",
        status_code=code,
        title="Инциденты",
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        params=params,
        export_query=urlencode({k: v for k, v in params.items() if k != "page"}),
        filters=filters,
        errors=errors,
        choices=await filter_choices(session, user),
        sectors={s.code: s.title for s in await list_sectors(session)},
        staff={s.id: s.full_name for s in await list_staff(session)},
        sources={s.id: s.title or SOURCE_KIND_TITLES.get(s.kind, s.kind) for s in await list_sources(session)},
        overdue={r.id for r in rows if is_overdue(r, now)},
        page_url=lambda n: "/incidents?" + _query(params, page=n if n > 1 else None),
        filtered=any(params.get(k) for k in FILTER_FIELDS if k != "sort"),
    )


def available_actions(detail: IncidentDetail) -> set[str]:
    """The card's buttons for this status, as in Telegram; the handlers refuse anything else anyway."""
    state = detail.status
    allowed = TRANSITIONS.get(state, frozenset())
    actions: set[str] = set()
    if state == Status.ASSIGNED:
        actions.add("accept")
    if Status.ANSWERED in allowed and state != Status.NEW and detail.can_reply:
        actions.add("answer")
    if state in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.WAITING):
        actions |= {"reassign", "reject"}
    if Status.CLOSED in allowed:
        actions.add("close")
    if state in (Status.CLOSED, Status.REJECTED, Status.DUPLICATE):
        actions.add("reopen")
    if state in (Status.ASSIGNED, Status.IN_PROGRESS):
        actions.add("wait")
    if state == Status.WAITING:
        actions.add("resume")
    if state in CHASED and detail.due_at is not None:
        actions.add("extend")
    if state in OPEN_STATUSES:
        actions |= {"urgent", "track"}
    return actions


async def _acting_staff(session: AsyncSession, user: User, incident_id: int) -> tuple[Staff | None, str]:
    """Who the user acts as on this incident, or why they cannot act."""
    staff = await session.get(Staff, user.staff_id) if user.staff_id is not None else None
    if staff is None or not staff.active:
        return None, "Ваш вход не связан с сотрудником из справочника: действовать по инцидентам нельзя."
    try:
        await check_may_act(session, incident_id=incident_id, staff=staff)
    except DomainError as error:
        return None, error.message
    return staff, ""


def _timeline_note(kind: str, data: dict[str, Any], sectors: dict[str, str]) -> str:
    """A short Russian detail of a timeline entry, beside its title."""
    if kind in ("routed", "reassigned") and data.get("sector"):
        before = sectors.get(data.get("old_sector") or "", "")
        after = sectors.get(data["sector"], data["sector"])
        return f"{before} → {after}" if before else after
    if kind == "answered":
        return "окончательный" if data.get("final", True) else "промежуточный"
    if kind == "deadline_extended" and data.get("reason"):
        return f"причина: {data['reason']}"
    if kind == "rejected" and data.get("reason"):
        return REASON_TITLES.get(data["reason"], data["reason"])
    if kind == "urgency_changed":
        return "срочный" if data.get("urgent") else "не срочный"
    if kind == "track_changed":
        return TRACK_TITLES.get(data.get("track", ""), "")
    if kind == "reply_failed" and data.get("error"):
        return str(data["error"])
    if kind == "edited" and data.get("old_text"):
        return f"было: {data['old_text']}"
    return ""


async def _card(
    request: Request,
    session: SessionDep,
    user: User,
    incident_id: int,
    now: datetime,
    *,
    error: str = "",
    status_code: int = status.HTTP_200_OK,
    form: dict[str, str] | None = None,
) -> Response:
    try:
        detail = await incident_detail_of(session, user, incident_id, now)
    except HTTPException as missing:
        return render(
            request,
            "incident.html",
            status_code=missing.status_code,
            title=f"Инцидент № {incident_id}",
            number=incident_id,
            missing=str(missing.detail),
        )
    staff, cannot_act = await _acting_staff(session, user, incident_id)
    sectors = {s.code: s.title for s in await list_sectors(session)}
    done = request.query_params.get("done", "")
    return render(
        request,
        "incident.html",
        status_code=status_code,
        title=f"Инцидент № {incident_id}",
        number=incident_id,
        i=detail,
        notice=DONE.get(done, ""),
        error=error,
        form=form or {},
        actions=available_actions(detail) if staff is not None else set(),
        cannot_act=cannot_act,
        sectors=sectors,
        other_sectors=[(code, title) for code, title in sectors.items() if code != detail.sector_code],
        timeline=[(e, _timeline_note(e.kind, e.data, sectors)) for e in detail.events],
        source_kind_title=SOURCE_KIND_TITLES.get(detail.source_kind, detail.source_kind),
        phase_title=PHASE_TITLES.get(detail.phase, detail.phase),
        track_title=TRACK_TITLES.get(detail.track, detail.track),
        reason_title=REASON_TITLES.get(detail.not_incident_reason or "", detail.not_incident_reason),
        attachment_titles=ATTACHMENT_TITLES,
        reply_states=REPLY_STATES,
        max_days=MAX_EXTENSION_DAYS,
    )


@router.get("/incidents/{incident_id}")
async def incident_page(
    incident_id: int, request: Request, session: SessionDep, user: CurrentUser, now: Now
) -> Response:
    return await _card(request, session, user, incident_id, now)


def _form_data(action: str, form: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The handler's arguments from the form's fields, or a Russian reason why they make no sense."""
    if action == "answer":
        return {"text": form.get("text", ""), "final": form.get("final", "1") != "0"}, ""
    if action == "reassign":
        return {"sector": form.get("sector", "")}, ""
    if action == "urgent":
        return {"urgent": form.get("urgent") == "1"}, ""
    if action == "track":
        return {"track": form.get("track", "")}, ""
    if action == "extend":
        days, until = form.get("working_days", "").strip(), form.get("until", "").strip()
        data: dict[str, Any] = {"until": None, "working_days": None, "reason": form.get("reason", "")}
        if until:
            try:
                data["until"] = datetime.fromisoformat(until)
            except ValueError:
                return data, "Новый срок не распознан: укажите дату и время."
        elif days.isdigit() and 1 <= int(days) <= MAX_EXTENSION_DAYS:
            data["working_days"] = int(days)
        else:
            return data, f"Укажите новый срок или число рабочих дней (от 1 до {MAX_EXTENSION_DAYS})."
        if not data["reason"].strip():
            return data, "Укажите причину продления срока."
        return data, ""
    return {}, ""


@router.post("/incidents/{incident_id}/{action}")
async def incident_action(
    incident_id: int, action: str, request: Request, session: SessionDep, user: CurrentUser, now: Now
) -> Response:
    if action not in ACTIONS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Такого действия нет.")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}
    data, problem = _form_data(action, form)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if not problem:
        try:
            await act(session, user, incident_id, action, now=now, **data)
        except HTTPException as refusal:
            # Nothing of a refused action is kept; the card is read again as it stands.
            await session.rollback()
            await session.refresh(user)
            problem, code = str(refusal.detail), refusal.status_code
    if problem:
        return await _card(request, session, user, incident_id, now, error=problem, status_code=code, form=form)
    done = "interim" if action == "answer" and not data["final"] else action
    return RedirectResponse(f"/incidents/{incident_id}?done={done}", status.HTTP_303_SEE_OTHER)
