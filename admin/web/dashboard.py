"""The dashboard page: the same figures as GET /api/dashboard, with the trend and the map drawn as SVG."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from admin.api.dashboard import build
from admin.deps import CurrentUser, Now, SessionDep
from admin.web import charts
from admin.web.common import render
from handlers import stats

router = APIRouter(include_in_schema=False)

# Quick choices beside the dates: (days back including today, label).
SPANS = ((7, "7 дней"), (30, "30 дней"), (90, "90 дней"), (365, "год"))


def _date(value: str) -> date | None:
    """A date from the form; empty means the default, anything else unreadable is refused in Russian."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise HTTPException(422, f"Не удалось прочитать дату «{value}»: нужен вид ГГГГ-ММ-ДД.") from None


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    first: Annotated[str, Query(alias="from")] = "",
    last: Annotated[str, Query(alias="to")] = "",
) -> HTMLResponse:
    """Today's numbers and the period's figures; unreadable dates show the default period with a notice."""
    error = ""
    try:
        data = await build(session, user, first=_date(first), last=_date(last), now=now)
    except HTTPException as refusal:
        error = str(refusal.detail)
        data = await build(session, user, first=None, last=None, now=now)
    today = stats.moscow_date(now)
    spans = [(label, f"/dashboard?from={today - timedelta(days=days - 1)}&to={today}") for days, label in SPANS]
    trend = charts.trend_svg([charts.TrendPoint(w.from_, w.to, w.received, w.late, w.link) for w in data.weeks])
    district = charts.map_svg(
        [charts.MapPoint(s.name, s.kind, s.lat, s.lon, s.value, s.link) for s in data.settlements]
    )
    return render(
        request,
        "dashboard.html",
        status_code=422 if error else 200,
        title="Сводка",
        d=data,
        error=error,
        spans=spans,
        trend=trend,
        district=district,
        num=charts.number,
        pct=charts.percent,
        hours=charts.hours,
        incidents=charts.incidents,
        peak_sector=max([s.value for s in data.by_sector] + [1]),
        peak_source=max([s.value for s in data.by_source] + [1]),
        peak_status=max([s.value for s in data.by_status] + [1]),
    )
