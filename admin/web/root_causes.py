"""The root-causes page: problems that keep coming back (as GET /api/root-causes) with their plan's steps,
a form to add a step and buttons to mark one done."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from admin.api import root_causes as api
from admin.deps import CurrentUser, Now, SessionDep
from admin.web import charts
from admin.web.common import render
from admin.web.directory import attempt, back, may, refuse_page
from handlers import stats
from storage.models import User

router = APIRouter(include_in_schema=False)

TITLE = "Повторяющиеся проблемы"
TEMPLATE = "root_causes.html"
DONE = {
    "step_added": "Шаг дорожной карты записан.",
    "step_done": "Шаг отмечен выполненным.",
}


def _span(weeks: str, min_weeks: str) -> tuple[int, int]:
    """The asked span; anything unreadable falls back to the default (8 weeks, in at least 3)."""
    w = int(weeks) if weeks.strip().isdigit() else 8
    m = int(min_weeks) if min_weeks.strip().isdigit() else 3
    return w, m


async def _page(
    request: Request,
    session: SessionDep,
    user: User,
    now: Any,
    *,
    weeks: int,
    min_weeks: int,
    done: str = "",
    error: str = "",
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    try:
        data = await api.build(session, user, weeks=weeks, min_weeks=min_weeks, now=now)
    except HTTPException as refusal:
        error, status_code = str(refusal.detail), 422
        weeks, min_weeks = 8, 3
        data = await api.build(session, user, weeks=weeks, min_weeks=min_weeks, now=now)
    peak = max((n for p in data.problems for n in p.weekly), default=0)
    return render(
        request,
        TEMPLATE,
        status_code=status_code,
        title=TITLE,
        r=data,
        weeks=weeks,
        min_weeks=min_weeks,
        peak=peak,
        editor=may(user, api.EDITORS),
        notice=DONE.get(done, ""),
        error=error,
        form=form or {},
        today=stats.moscow_date(now),
        num=charts.number,
    )


@router.get("/root-causes", response_class=HTMLResponse)
async def root_causes_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    weeks: str = "8",
    min_weeks: str = "3",
    done: str = "",
) -> HTMLResponse:
    """The recurring problems this user may see, with the plan recorded against each."""
    w, m = _span(weeks, min_weeks)
    return await _page(request, session, user, now, weeks=w, min_weeks=m, done=done)


def _back(weeks: int, min_weeks: int, done: str) -> Response:
    return back(f"/root-causes?weeks={weeks}&min_weeks={min_weeks}", done)


@router.post("/root-causes/steps")
async def step_add(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    sector_code: Annotated[str, Form()] = "",
    settlement: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    due: Annotated[str, Form()] = "",
    weeks: Annotated[str, Form()] = "8",
    min_weeks: Annotated[str, Form()] = "3",
) -> Response:
    if not may(user, api.EDITORS):
        return refuse_page(request, TEMPLATE, TITLE)
    w, m = _span(weeks, min_weeks)
    form = {"sector_code": sector_code, "settlement": settlement, "text": text, "due": due}
    try:
        when = date.fromisoformat(due.strip()) if due.strip() else None
    except ValueError:
        error = "Срок: укажите дату."
        return await _page(request, session, user, now, weeks=w, min_weeks=m, error=error, status_code=422, form=form)
    body = api.StepIn(sector_code=sector_code, settlement=settlement, text=text, due=when)
    result = await attempt(session, user, api.step_add(body, session, user, now))
    if isinstance(result, str):
        return await _page(request, session, user, now, weeks=w, min_weeks=m, error=result, status_code=422, form=form)
    return _back(w, m, "step_added")


@router.post("/root-causes/steps/{step_id}/done")
async def step_done(
    request: Request,
    step_id: int,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    weeks: Annotated[str, Form()] = "8",
    min_weeks: Annotated[str, Form()] = "3",
) -> Response:
    if not may(user, api.EDITORS):
        return refuse_page(request, TEMPLATE, TITLE)
    w, m = _span(weeks, min_weeks)
    result = await attempt(session, user, api.step_done(step_id, session, user, now))
    if isinstance(result, str):
        return await _page(request, session, user, now, weeks=w, min_weeks=m, error=result, status_code=422)
    return _back(w, m, "step_done")
