"""The dashboard over the API: every figure of the /dashboard page, each with the address of its incidents."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

import datetime as dt
from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.deps import CurrentUser, Now, SessionDep, visible_sectors
from handlers import stats
from handlers.vocab import SOURCE_KIND_TITLES, STATUS_TITLES
from storage.models import User

router = APIRouter(prefix="/api/dashboard", tags=["dashboard"])

DEFAULT_DAYS = 30
MAX_DAYS = 3 * 366
# Waiting for the officer to choose a sector, or not an incident at all.
NO_SECTOR = "Без блока"


class PeriodOut(BaseModel):
    from_: date = Field(serialization_alias="from", description="First Moscow day, included")
    to: date = Field(description="Last Moscow day, included")


class Figure(BaseModel):
    value: int
    link: str | None = Field(description="The incident list behind the figure (None: no filter selects them)")


class StatusCount(Figure):
    status: str
    title: str


class DeadlinesOut(BaseModel):
    """Deadlines kept: see handlers.stats for the rule; share = in_time / (in_time + late)."""

    in_time: int
    late: int
    judged: int
    share: float | None
    link: str


class TodayOut(BaseModel):
    date: dt.date
    received: Figure
    in_work: int
    in_work_by_status: list[StatusCount]
    overdue: Figure
    week_from: dt.date
    week: DeadlinesOut


class SectorCount(Figure):
    code: str | None
    title: str
    overdue: Figure


class SourceCount(Figure):
    id: int
    title: str
    kind: str
    kind_title: str


class DurationOut(BaseModel):
    count: int = Field(description="Incidents with this moment set")
    average_hours: float | None
    p90_hours: float | None


class TimesOut(BaseModel):
    unit: str = Field(default="calendar_hours", description="Calendar hours from the citizen's message")
    reaction: DurationOut
    answer: DurationOut


class WeekOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    received: int
    in_time: int
    late: int
    share: float | None
    link: str


class SettlementCount(Figure):
    name: str
    kind: str
    lat: float
    lon: float


class DashboardOut(BaseModel):
    period: PeriodOut
    sectors: list[str] | None = Field(description="The sectors counted; None: all of them")
    generated_at: datetime
    today: TodayOut
    received: Figure
    deadlines: DeadlinesOut
    times: TimesOut
    by_status: list[StatusCount]
    by_sector: list[SectorCount]
    by_source: list[SourceCount]
    weeks: list[WeekOut]
    settlements: list[SettlementCount]
    unplaced: int = Field(description="Incidents of the period with no known settlement")


def incidents_link(**filters: str | int | date | None) -> str:
    """The incident list with these filters (the names /incidents reads: status, sector, source, settlement,
    assignee, overdue, from, to)."""
    params = {("from" if k == "from_" else k): str(v) for k, v in filters.items() if v is not None}
    return "/incidents?" + urlencode(params) if params else "/incidents"


def resolve_period(first: date | None, last: date | None, now: datetime) -> stats.Period:
    """The asked period; by default the last 30 days up to today (Moscow)."""
    last = last or stats.moscow_date(now)
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Начало периода позже его конца.")
    if (last - first).days >= MAX_DAYS:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "Период длиннее трёх лет: выберите короче.")
    return stats.Period(first=first, last=last)


def _deadlines(found: stats.Deadlines, link: str) -> DeadlinesOut:
    return DeadlinesOut(in_time=found.in_time, late=found.late, judged=found.judged, share=found.share, link=link)


def _duration(found: stats.Duration) -> DurationOut:
    return DurationOut(count=found.count, average_hours=found.average, p90_hours=found.p90)


def present(figures: stats.Dashboard) -> DashboardOut:
    """The figures with their links to the incident list."""
    period, today = figures.period, figures.today
    span = {"from_": period.first, "to": period.last}
    return DashboardOut(
        period=PeriodOut(from_=period.first, to=period.last),
        sectors=figures.sectors,
        generated_at=figures.now,
        today=TodayOut(
            date=today.day,
            received=Figure(value=today.received, link=incidents_link(from_=today.day, to=today.day)),
            in_work=today.in_work_total,
            in_work_by_status=[
                StatusCount(status=s, title=STATUS_TITLES.get(s, s), value=n, link=incidents_link(status=s))
                for s, n in today.in_work.items()
            ],
            overdue=Figure(value=today.overdue, link=incidents_link(overdue=1)),
            week_from=today.week_first,
            week=_deadlines(today.week, incidents_link(from_=today.week_first, to=today.day)),
        ),
        received=Figure(value=figures.received, link=incidents_link(**span)),
        deadlines=_deadlines(figures.deadlines, incidents_link(**span)),
        times=TimesOut(reaction=_duration(figures.reaction), answer=_duration(figures.answer)),
        by_status=[
            StatusCount(status=s, title=STATUS_TITLES.get(s, s), value=n, link=incidents_link(status=s, **span))
            for s, n in figures.by_status.items()
        ],
        by_sector=[
            SectorCount(
                code=row.code,
                title=row.title or NO_SECTOR,
                value=row.count,
                # Incidents still waiting for a sector have no filter of their own in the list.
                link=incidents_link(sector=row.code, **span) if row.code else None,
                overdue=Figure(
                    value=row.overdue, link=incidents_link(sector=row.code, overdue=1) if row.code else None
                ),
            )
            for row in figures.by_sector
        ],
        by_source=[
            SourceCount(
                id=row.id,
                title=row.title or SOURCE_KIND_TITLES.get(row.kind, row.kind),
                kind=row.kind,
                kind_title=SOURCE_KIND_TITLES.get(row.kind, row.kind),
                value=row.count,
                link=incidents_link(source=row.id, **span),
            )
            for row in figures.by_source
        ],
        weeks=[
            WeekOut(
                from_=week.first,
                to=week.last,
                received=week.received,
                in_time=week.deadlines.in_time,
                late=week.deadlines.late,
                share=week.deadlines.share,
                link=incidents_link(from_=week.first, to=week.last),
            )
            for week in figures.weeks
        ],
        settlements=[
            SettlementCount(
                name=place.name,
                kind=place.kind,
                lat=place.lat,
                lon=place.lon,
                value=place.count,
                link=incidents_link(settlement=place.name, **span) if place.count else None,
            )
            for place in figures.places
        ],
        unplaced=figures.unplaced,
    )


async def build(
    session: AsyncSession, user: User, *, first: date | None, last: date | None, now: datetime
) -> DashboardOut:
    """Everything the dashboard shows to this user (a sector head: their sectors only)."""
    period = resolve_period(first, last, now)
    sectors = await visible_sectors(session, user)
    return present(await stats.dashboard(session, period=period, sectors=sectors, now=now))


@router.get("")
async def dashboard(
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    first: Annotated[date | None, Query(alias="from", description="First Moscow day (YYYY-MM-DD)")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last Moscow day (YYYY-MM-DD), included")] = None,
) -> DashboardOut:
    """Today's numbers and the period's figures (by default the last 30 days), each with its incidents' address."""
    return await build(session, user, first=first, last=last, now=now)
