"""The rating page: the same figures as GET /api/ratings, sectors or assignees ranked, with the previous period."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse

from admin.api.ratings import build
from admin.deps import ALL_SECTORS, CurrentUser, Now, SessionDep
from admin.web import charts
from admin.web.common import render
from admin.web.dashboard import SPANS, _date
from handlers import ratings, stats

router = APIRouter(include_in_schema=False)

TITLE = "Рейтинг"
GROUPINGS = {"sector": "Блоки", "assignee": "Исполнители"}
TERMS = {
    "in_time": "ответ в срок",
    "reaction": "время до первой реакции",
    "answer": "время до окончательного ответа",
    "closed_unanswered": "закрыто без ответа",
    "final": "доля окончательных ответов",
    "satisfaction": "удовлетворённость жителей",
}


def signed(value: float | None, digits: int = 0) -> str:
    """+3, −1,5 and «0»: a change with its sign (a true minus), a dash for none."""
    if value is None:
        return "—"
    if round(value, digits) == 0:
        return charts.number(0, digits)
    return ("+" if value > 0 else "\u2212") + charts.number(abs(value), digits)


@router.get("/ratings", response_class=HTMLResponse)
async def ratings_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
    by: str = "sector",
) -> HTMLResponse:
    """Sectors or assignees ranked over the period; unreadable dates show the default period with a notice."""
    if user.role not in ALL_SECTORS:
        return render(request, "ratings.html", status_code=status.HTTP_403_FORBIDDEN, denied=True, title=TITLE)
    grouping: ratings.By = "assignee" if by == "assignee" else "sector"
    error = ""
    try:
        data = await build(session, user, first=_date(first), last=_date(last), by=grouping, now=now)
    except HTTPException as refusal:
        error = str(refusal.detail)
        data = await build(session, user, first=None, last=None, by=grouping, now=now)
    today = stats.moscow_date(now)
    spans = [
        (label, f"/ratings?by={grouping}&from={today - timedelta(days=days - 1)}&to={today}") for days, label in SPANS
    ]
    tabs = [
        (label, f"/ratings?by={key}&from={data.period.from_}&to={data.period.to}", key == grouping)
        for key, label in GROUPINGS.items()
    ]
    return render(
        request,
        "ratings.html",
        status_code=422 if error else 200,
        title=TITLE,
        r=data,
        error=error,
        spans=spans,
        tabs=tabs,
        who="Блок" if grouping == "sector" else "Исполнитель",
        terms=[(TERMS[term], weight) for term, weight in ratings.WEIGHTS.items()],
        reaction_hours=ratings.REACTION_HOURS,
        answer_hours=ratings.ANSWER_HOURS,
        num=charts.number,
        pct=charts.percent,
        hours=charts.hours,
        signed=signed,
    )
