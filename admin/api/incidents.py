"""Incidents over the API: the list with filters, search, sorting and pages; one incident with its timeline; the
actions of the Telegram card (answer, reassign, «не инцидент», close, extend the deadline…). The pages use the
same functions (`find_incidents`, `visible_incident`, `act`)."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Response, status
from openpyxl import Workbook
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.deps import CurrentUser, Now, SessionDep, refused, staff_of, visible_sectors
from handlers import audit
from handlers.deadlines import extension_until, is_overdue
from handlers.directory import list_sectors, list_sources, list_staff
from handlers.errors import DomainError, NotFound
from handlers.incidents import (
    accept_incident,
    answer_incident,
    close_incident,
    extend_deadline,
    incident_replies,
    list_incidents,
    reassign_incident,
    reject_incident,
    reopen_incident,
    resume_incident,
    set_track,
    set_urgent,
    view_incident,
    wait_for_citizen,
)
from handlers.settlements import list_settlements
from handlers.stats import day_start
from handlers.vocab import EVENT_TITLES, SOURCE_KIND_TITLES, STATUS_TITLES
from handlers.worktime import DISTRICT_TZ
from storage.models import OPEN_STATUSES, Incident, Staff, User

router = APIRouter(prefix="/api/incidents", tags=["incidents"])

MOSCOW = DISTRICT_TZ
OPEN = "open"  # a status filter meaning every open status
SORT_TITLES = {
    "new": "сначала новые",
    "old": "сначала старые",
    "due": "ближе к сроку",
    "updated": "недавно изменённые",
}
MAX_EXTENSION_DAYS = 60


class IncidentFilters(BaseModel):
    """What the list shows. Dates are Moscow days, both ends included."""

    model_config = ConfigDict(populate_by_name=True)

    status: list[str] = Field(default_factory=list, description="Статусы (можно несколько); «open» — все открытые.")
    sector: str | None = Field(default=None, description="Код блока.")
    source: str | None = Field(
        default=None, description="Номер источника или вид источника (tg_direct, vk_community…)."
    )
    settlement: str | None = Field(default=None, description="Населённый пункт, как в справочнике.")
    assignee: int | None = Field(default=None, description="Номер сотрудника-исполнителя.")
    overdue: bool = Field(default=False, description="Только просроченные: срок идёт и уже истёк.")
    from_: date | None = Field(default=None, alias="from", description="Получены с этого дня (по Москве).")
    to: date | None = Field(default=None, description="Получены по этот день включительно (по Москве).")
    q: str = Field(default="", max_length=200, description="Слова текста в любом регистре, ё/е, или номер инцидента.")
    sort: Literal["new", "old", "due", "updated"] = "new"


class IncidentPublic(BaseModel):
    id: int
    status: str
    status_title: str
    sector_code: str | None
    source_id: int
    received_at: datetime
    due_at: datetime | None
    answered_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    text: str
    permalink: str | None
    classified_by: str | None
    settlement: str | None
    assignee_id: int | None
    urgent: bool
    track: str
    phase: str
    problem_id: int | None
    overdue: bool


class MessageOut(BaseModel):
    id: int
    text: str
    attachments: list[dict[str, Any]]
    received_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    permalink: str | None


class EventOut(BaseModel):
    at: datetime
    kind: str
    title: str
    staff_id: int | None
    staff_name: str | None
    data: dict[str, Any]


class ReplyOut(BaseModel):
    id: int
    text: str
    is_final: bool
    state: str
    created_at: datetime
    published_at: datetime | None
    staff_id: int | None
    error: str | None


class IncidentDetail(IncidentPublic):
    source_kind: str
    source_title: str
    can_reply: bool
    sector_title: str | None
    author_name: str | None
    author_profile: str | None
    assignee: str | None
    reaction_due_at: datetime | None
    first_reaction_at: datetime | None
    not_incident_reason: str | None
    problem_lead_id: int | None
    problem_size: int
    attachments: list[dict[str, Any]]
    messages: list[MessageOut]
    events: list[EventOut]
    replies: list[ReplyOut]
    last_reply: ReplyOut | None


class IncidentPage(BaseModel):
    items: list[IncidentPublic]
    total: int
    limit: int
    offset: int


class Choice(BaseModel):
    value: str
    title: str


class FilterChoices(BaseModel):
    """What each filter of the list can be, with Russian titles."""

    statuses: list[Choice]
    sectors: list[Choice]
    sources: list[Choice]
    settlements: list[Choice]
    assignees: list[Choice]
    sorts: list[Choice]


class AnswerIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    final: bool = Field(default=True, description="Окончательный ответ или промежуточный.")


class ReassignIn(BaseModel):
    sector: str


class ExtendIn(BaseModel):
    """Either a new deadline (`until`, without a zone it is Moscow time) or whole working days to add."""

    until: datetime | None = None
    working_days: int | None = Field(default=None, ge=1, le=MAX_EXTENSION_DAYS)
    reason: str = Field(min_length=1, max_length=1000)


class UrgentIn(BaseModel):
    urgent: bool


class TrackIn(BaseModel):
    track: Literal["social", "appeal"]


def public(incident: Incident, now: datetime) -> dict[str, Any]:
    data = incident.model_dump()
    data["status_title"] = STATUS_TITLES.get(incident.status, incident.status)
    data["overdue"] = is_overdue(incident, now)
    return data


def in_moscow(moment: datetime) -> datetime:
    """A time without a zone (a form's date-time field) is Moscow time."""
    return moment.replace(tzinfo=MOSCOW) if moment.tzinfo is None else moment


def expand_statuses(statuses: list[str]) -> list[str]:
    """Statuses as the handler takes them; «open» is every open one. Unknown values are refused."""
    found: list[str] = []
    for value in statuses:
        if value == OPEN:
            found += OPEN_STATUSES
        elif value in STATUS_TITLES:
            found.append(value)
        else:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"Такого статуса нет: «{value}».")
    return list(dict.fromkeys(found))


async def find_incidents(
    session: AsyncSession, user: User, filters: IncidentFilters, *, now: datetime, limit: int, offset: int
) -> tuple[list[Incident], int]:
    """A page of the incidents this user may see that match the filters, and how many match in all."""
    source_id, source_kind = None, None
    if filters.source:
        if filters.source.isdigit():
            source_id = int(filters.source)
        elif filters.source in SOURCE_KIND_TITLES:
            source_kind = filters.source
        else:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Такого источника нет.")
    if filters.from_ and filters.to and filters.from_ > filters.to:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Начало периода позже его конца.")
    try:
        return await list_incidents(
            session,
            status=expand_statuses(filters.status),
            sector_code=filters.sector,
            sector_codes=await visible_sectors(session, user),
            source_id=source_id,
            source_kind=source_kind,
            settlement=filters.settlement,
            assignee_id=filters.assignee,
            overdue_at=now if filters.overdue else None,
            received_from=day_start(filters.from_) if filters.from_ else None,
            received_before=day_start(filters.to + timedelta(days=1)) if filters.to else None,
            text=filters.q,
            sort=filters.sort,
            limit=limit,
            offset=offset,
        )
    except DomainError as error:
        raise refused(error) from error


async def settlement_names(session: AsyncSession) -> tuple[str, ...]:
    return tuple(s.name for s in await list_settlements(session) if s.active)


async def filter_choices(session: AsyncSession, user: User) -> FilterChoices:
    allowed = await visible_sectors(session, user)
    sectors = [s for s in await list_sectors(session) if allowed is None or s.code in allowed]
    return FilterChoices(
        statuses=[Choice(value=OPEN, title="все открытые")]
        + [Choice(value=code, title=title) for code, title in STATUS_TITLES.items()],
        sectors=[Choice(value=s.code, title=s.title) for s in sectors],
        sources=[Choice(value=kind, title=title) for kind, title in SOURCE_KIND_TITLES.items()]
        + [
            Choice(value=str(s.id), title=s.title or SOURCE_KIND_TITLES.get(s.kind, s.kind))
            for s in await list_sources(session)
        ],
        settlements=[Choice(value=name, title=name) for name in await settlement_names(session)],
        assignees=[Choice(value=str(s.id), title=s.full_name) for s in await list_staff(session) if s.active],
        sorts=[Choice(value=code, title=title) for code, title in SORT_TITLES.items()],
    )


async def visible_incident(session: AsyncSession, user: User, incident_id: int) -> Incident:
    """The incident if this user may see it; another sector's incident is answered like a missing one."""
    incident = await session.get(Incident, incident_id)
    allowed = await visible_sectors(session, user)
    if incident is None or (allowed is not None and incident.sector_code not in allowed):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Инцидент № {incident_id} не найден.")
    return incident


async def incident_detail_of(session: AsyncSession, user: User, incident_id: int, now: datetime) -> IncidentDetail:
    await visible_incident(session, user, incident_id)
    try:
        view = await view_incident(session, incident_id, full=True)
    except NotFound as error:
        raise refused(error) from error
    names = {s.id: s.full_name for s in await list_staff(session)}
    replies = [ReplyOut.model_validate(r.model_dump()) for r in await incident_replies(session, incident_id)]
    data = public(view.incident, now)
    data.update(
        source_kind=view.source.kind,
        source_title=view.source.title or SOURCE_KIND_TITLES.get(view.source.kind, view.source.kind),
        can_reply=view.source.can_reply,
        sector_title=view.sector.title if view.sector else None,
        author_name=view.author.name if view.author else None,
        author_profile=view.author.profile_url if view.author else None,
        assignee=view.assignee.full_name if view.assignee else None,
        problem_lead_id=view.problem_lead_id,
        problem_size=view.problem_size,
        messages=[m.model_dump() for m in view.messages],
        events=[
            {
                **e.model_dump(),
                "title": EVENT_TITLES.get(e.kind, e.kind),
                "staff_name": names.get(e.staff_id) if e.staff_id else None,
            }
            for e in view.events
        ],
        replies=replies,
        last_reply=replies[-1] if replies else None,
    )
    return IncidentDetail.model_validate(data)


Action = Callable[[AsyncSession, int, Staff, datetime, dict[str, Any]], Awaitable[object]]

ACTIONS: dict[str, Action] = {
    "accept": lambda s, n, staff, now, _: accept_incident(s, incident_id=n, staff=staff, now=now),
    "answer": lambda s, n, staff, now, d: answer_incident(
        s, incident_id=n, staff=staff, text=d["text"], final=d["final"], now=now
    ),
    "reassign": lambda s, n, staff, now, d: reassign_incident(
        s, incident_id=n, sector_code=d["sector"], staff=staff, now=now
    ),
    "reject": lambda s, n, staff, now, _: reject_incident(s, incident_id=n, staff=staff, now=now),
    "close": lambda s, n, staff, now, _: close_incident(s, incident_id=n, staff=staff, now=now),
    "reopen": lambda s, n, staff, now, _: reopen_incident(s, incident_id=n, staff=staff, now=now),
    "wait": lambda s, n, staff, now, _: wait_for_citizen(s, incident_id=n, staff=staff, now=now),
    "resume": lambda s, n, staff, now, _: resume_incident(s, incident_id=n, staff=staff, now=now),
    "extend": lambda s, n, staff, now, d: extend_deadline(
        s, incident_id=n, staff=staff, until=d["until"], reason=d["reason"], now=now
    ),
    "urgent": lambda s, n, staff, now, d: set_urgent(s, incident_id=n, staff=staff, urgent=d["urgent"], now=now),
    "track": lambda s, n, staff, now, d: set_track(s, incident_id=n, staff=staff, track=d["track"], now=now),
}


async def act(session: AsyncSession, user: User, incident_id: int, action: str, *, now: datetime, **data: Any) -> None:
    """Do one action of the card as the user's staff member, noted in the audit trail in the same transaction."""
    await visible_incident(session, user, incident_id)
    staff = await staff_of(session, user)
    try:
        if action == "extend":
            if data.get("until") is None:
                if not data.get("working_days"):
                    raise HTTPException(
                        status.HTTP_422_UNPROCESSABLE_CONTENT,
                        "Укажите новый срок или на сколько рабочих дней продлить.",
                    )
                data["until"] = await extension_until(
                    session, incident_id=incident_id, working_days=data["working_days"], now=now
                )
            data["until"] = in_moscow(data["until"])
        noted = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}
        audit.note(session, user=user, action=f"incident_{action}", target=f"incident:{incident_id}", now=now, **noted)
        await ACTIONS[action](session, incident_id, staff, now, data)
    except DomainError as error:
        raise refused(error) from error


@router.get("")
async def incidents_list(
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    filters: Annotated[IncidentFilters, Query()],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    """List incidents with filters, text search, sorting and pagination (only the user's sectors for a head)."""
    rows, total = await find_incidents(session, user, filters, now=now, limit=limit, offset=offset)
    return IncidentPage(
        items=[IncidentPublic.model_validate(public(r, now)) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get("/filters")
async def incidents_filters(session: SessionDep, user: CurrentUser) -> FilterChoices:
    """Say what each filter of the list can be, with Russian titles."""
    return await filter_choices(session, user)


EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = (
    "№",
    "Поступило",
    "Статус",
    "Блок",
    "Исполнитель",
    "Источник",
    "Населённый пункт",
    "Срок",
    "Просрочен",
    "Первая реакция",
    "Ответ",
    "Закрыт",
    "Текст",
    "Ссылка",
)


@router.get("/export")
async def incidents_export(
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    filters: Annotated[IncidentFilters, Query()],
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "xlsx",
) -> Response:
    """The incidents of the list with the same filters, as a CSV or XLSX file (up to 100,000 rows)."""
    rows, _ = await find_incidents(session, user, filters, now=now, limit=EXPORT_LIMIT, offset=0)
    sectors = {s.code: s.title for s in await list_sectors(session)}
    staff = {s.id: s.full_name for s in await list_staff(session)}
    sources = {s.id: s.title or SOURCE_KIND_TITLES.get(s.kind, s.kind) for s in await list_sources(session)}

    def moment(value: datetime | None) -> str:
        return in_moscow(value).strftime("%d.%m.%Y %H:%M") if value else ""

    table = [
        [
            r.id,
            moment(r.received_at),
            STATUS_TITLES.get(r.status, r.status),
            sectors.get(r.sector_code or "", ""),
            staff.get(r.assignee_id or 0, ""),
            sources.get(r.source_id, ""),
            r.settlement or "",
            moment(r.due_at),
            "да" if is_overdue(r, now) else "",
            moment(r.first_reaction_at),
            moment(r.answered_at),
            moment(r.closed_at),
            r.text,
            r.permalink or "",
        ]
        for r in rows
    ]
    stamp = in_moscow(now).strftime("%Y-%m-%d")
    if format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")  # what Russian Excel opens by a double click
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(table)
        data, media = ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    else:
        data = await asyncio.to_thread(_xlsx, table)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = quote(f"инциденты-{stamp}.{format}")
    return Response(data, media_type=media, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


def _xlsx(table: list[list[Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Инциденты")
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJKLMN", (7, 16, 14, 24, 22, 24, 18, 16, 10, 16, 16, 16, 80, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.append(list(EXPORT_COLUMNS))
    for row in table:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@router.get("/{incident_id}")
async def incident_detail(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Show one incident with its messages, attachments, timeline and answers."""
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/accept")
async def incident_accept(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Accept the incident into work (it becomes yours)."""
    await act(session, user, incident_id, "accept", now=now)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/answer")
async def incident_answer(
    incident_id: int, body: AnswerIn, session: SessionDep, user: CurrentUser, now: Now
) -> IncidentDetail:
    """Answer the citizen where they wrote: a final answer, or an interim one that starts the final deadline."""
    await act(session, user, incident_id, "answer", now=now, text=body.text, final=body.final)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/reassign")
async def incident_reassign(
    incident_id: int, body: ReassignIn, session: SessionDep, user: CurrentUser, now: Now
) -> IncidentDetail:
    """Send the incident to another sector (its deadline stays)."""
    await act(session, user, incident_id, "reassign", now=now, sector=body.sector)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/reject")
async def incident_reject(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Mark as «не инцидент»: no answer is needed; it can be reopened."""
    await act(session, user, incident_id, "reject", now=now)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/close")
async def incident_close(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Close the incident."""
    await act(session, user, incident_id, "close", now=now)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/reopen")
async def incident_reopen(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Take a closed incident or a «не инцидент» back into work."""
    await act(session, user, incident_id, "reopen", now=now)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/wait")
async def incident_wait(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Wait for the citizen's answer: the deadline stops."""
    await act(session, user, incident_id, "wait", now=now)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/resume")
async def incident_resume(incident_id: int, session: SessionDep, user: CurrentUser, now: Now) -> IncidentDetail:
    """Go on without the citizen's answer: the deadline runs again."""
    await act(session, user, incident_id, "resume", now=now)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/extend")
async def incident_extend(
    incident_id: int, body: ExtendIn, session: SessionDep, user: CurrentUser, now: Now
) -> IncidentDetail:
    """Extend the running deadline to a moment or by working days, for a reason kept in the timeline."""
    await act(
        session,
        user,
        incident_id,
        "extend",
        now=now,
        until=body.until,
        working_days=body.working_days,
        reason=body.reason,
    )
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/urgent")
async def incident_urgent(
    incident_id: int, body: UrgentIn, session: SessionDep, user: CurrentUser, now: Now
) -> IncidentDetail:
    """Mark or unmark as urgent (the urgent reaction deadline applies)."""
    await act(session, user, incident_id, "urgent", now=now, urgent=body.urgent)
    return await incident_detail_of(session, user, incident_id, now)


@router.post("/{incident_id}/track")
async def incident_track(
    incident_id: int, body: TrackIn, session: SessionDep, user: CurrentUser, now: Now
) -> IncidentDetail:
    """Switch between a message from social media and a formal appeal under 59-ФЗ."""
    await act(session, user, incident_id, "track", now=now, track=body.track)
    return await incident_detail_of(session, user, incident_id, now)
