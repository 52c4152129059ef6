"""Incidents over the API: lists with filters, one incident with its timeline."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel

from admin.deps import CurrentUser, SessionDep, visible_sectors
from handlers.errors import NotFound
from handlers.incidents import list_incidents, view_incident
from handlers.vocab import STATUS_TITLES
from storage.models import Incident

router = APIRouter(prefix="/api/incidents", tags=["incidents"])


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
    text: str
    permalink: str | None
    classified_by: str | None
    settlement: str | None


class MessageOut(BaseModel):
    id: int
    text: str
    attachments: list[dict[str, Any]]
    received_at: datetime
    edited_at: datetime | None
    permalink: str | None


class EventOut(BaseModel):
    at: datetime
    kind: str
    staff_id: int | None
    data: dict[str, Any]


class ReplyOut(BaseModel):
    id: int
    text: str
    is_final: bool
    state: str
    created_at: datetime
    published_at: datetime | None


class IncidentDetail(IncidentPublic):
    source_kind: str
    source_title: str
    author_name: str | None
    author_profile: str | None
    assignee: str | None
    attachments: list[dict[str, Any]]
    messages: list[MessageOut]
    events: list[EventOut]
    last_reply: ReplyOut | None


class IncidentPage(BaseModel):
    items: list[IncidentPublic]
    total: int


def _public(incident: Incident) -> dict[str, Any]:
    data = incident.model_dump()
    data["status_title"] = STATUS_TITLES.get(incident.status, incident.status)
    return data


@router.get("")
async def incidents_list(
    session: SessionDep,
    user: CurrentUser,
    status_: Annotated[str | None, Query(alias="status")] = None,
    sector: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    """List incidents, newest first, with filters and pagination."""
    rows, total = await list_incidents(
        session,
        status=status_,
        sector_code=sector,
        sector_codes=await visible_sectors(session, user),
        limit=limit,
        offset=offset,
    )
    return IncidentPage(items=[IncidentPublic.model_validate(_public(r)) for r in rows], total=total)


@router.get("/{incident_id}")
async def incident_detail(incident_id: int, session: SessionDep, user: CurrentUser) -> IncidentDetail:
    """Show one incident with its messages, timeline and last answer."""
    try:
        view = await view_incident(session, incident_id, full=True)
    except NotFound as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, error.message) from error
    allowed = await visible_sectors(session, user)
    if allowed is not None and view.incident.sector_code not in allowed:
        # The same answer as for a missing incident: other sectors' numbers are not disclosed.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Инцидент № {incident_id} не найден.")
    data = _public(view.incident)
    data.update(
        source_kind=view.source.kind,
        source_title=view.source.title,
        author_name=view.author.name if view.author else None,
        author_profile=view.author.profile_url if view.author else None,
        assignee=view.assignee.full_name if view.assignee else None,
        attachments=view.incident.attachments,
        messages=[m.model_dump() for m in view.messages],
        events=[e.model_dump() for e in view.events],
        last_reply=view.last_reply.model_dump() if view.last_reply else None,
    )
    return IncidentDetail.model_validate(data)
