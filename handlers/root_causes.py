"""Root causes: problems that keep coming back, and the plan («дорожная карта») the МЦУ records against them.

A *problem* here is a sector in a settlement: «ЖКХ в Гранкино». It *keeps coming back* when it has incidents in
at least `min_weeks` of the last `weeks` Monday–Sunday weeks (Moscow time; the newest is the current week, so
far). Counted are incidents received in those weeks that name a settlement and a sector, except «не инцидент»
(rejected) and duplicates. An incident is *open* while its status is one of `OPEN_STATUSES` (answered but not
yet closed counts as open).

The steps of a plan are kept per (sector, settlement), so they stay with the problem from week to week.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import IllegalTransition, InvalidInput, NotFound
from handlers.stats import day_start, moscow_date
from storage.models import OPEN_STATUSES, Incident, RoadmapStep, Sector, Status

NOT_COUNTED = (Status.REJECTED, Status.DUPLICATE)
MAX_WEEKS = 52
TEXT_MIN, TEXT_MAX = 3, 2000


@dataclass(slots=True)
class Recurring:
    sector_code: str
    sector_title: str
    settlement: str
    weekly: list[int]  # incidents per week, oldest to newest
    open: int
    last_at: datetime
    steps: list[RoadmapStep] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.weekly)

    @property
    def weeks_with_incidents(self) -> int:
        return sum(1 for n in self.weekly if n)


@dataclass(slots=True)
class Report:
    week_starts: list[date]  # Mondays, oldest to newest
    rows: list[Recurring]


def week_starts(now: datetime, weeks: int) -> list[date]:
    """The Mondays of the last `weeks` Moscow weeks, the current one last."""
    today = moscow_date(now)
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]


def check_span(weeks: int, min_weeks: int) -> None:
    if not 1 <= weeks <= MAX_WEEKS:
        raise InvalidInput(f"Число недель — от 1 до {MAX_WEEKS}.")
    if not 1 <= min_weeks <= weeks:
        raise InvalidInput("Повторяющейся считается проблема хотя бы в одной из недель периода и не больше их числа.")


async def recurring(
    session: AsyncSession,
    *,
    now: datetime,
    weeks: int = 8,
    min_weeks: int = 3,
    sectors: list[str] | None = None,
) -> Report:
    """The problems (sector, settlement) with incidents in at least `min_weeks` of the last `weeks` weeks; most
    persistent first. `sectors`: only these (None: all)."""
    check_span(weeks, min_weeks)
    mondays = week_starts(now, weeks)
    bounds = [day_start(m) for m in mondays]
    query = select(Incident.sector_code, Incident.settlement, Incident.received_at, Incident.status).where(
        Incident.received_at >= bounds[0],
        col(Incident.sector_code).is_not(None),
        col(Incident.settlement).is_not(None),
        col(Incident.status).not_in(NOT_COUNTED),
    )
    if sectors is not None:
        query = query.where(col(Incident.sector_code).in_(sectors))
    found: dict[tuple[str, str], Recurring] = {}
    for sector_code, settlement, received_at, status in await session.exec(query):
        if sector_code is None or settlement is None:
            continue
        week = sum(1 for b in bounds if received_at >= b) - 1
        row = found.get((sector_code, settlement))
        if row is None:
            row = found[(sector_code, settlement)] = Recurring(sector_code, "", settlement, [0] * weeks, 0, received_at)
        row.weekly[week] += 1
        row.open += status in OPEN_STATUSES
        row.last_at = max(row.last_at, received_at)
    rows = [r for r in found.values() if r.weeks_with_incidents >= min_weeks]
    if rows:
        titles = dict((await session.exec(select(Sector.code, Sector.title))).all())
        codes = {r.sector_code for r in rows}
        steps = await session.exec(
            select(RoadmapStep).where(col(RoadmapStep.sector_code).in_(codes)).order_by(col(RoadmapStep.id))
        )
        for step in steps:
            if (row := found.get((step.sector_code, step.settlement))) is not None:
                row.steps.append(step)
        for row in rows:
            row.sector_title = titles.get(row.sector_code, row.sector_code)
    rows.sort(key=lambda r: (-r.weeks_with_incidents, -r.total, r.sector_title, r.settlement))
    return Report(week_starts=mondays, rows=rows)


async def add_step(
    session: AsyncSession,
    *,
    sector_code: str,
    settlement: str,
    text: str,
    due: date | None,
    login: str,
    now: datetime,
) -> RoadmapStep:
    """Record a step of the plan against the problem of this sector in this settlement."""
    text = text.strip()
    settlement = settlement.strip()
    if not TEXT_MIN <= len(text) <= TEXT_MAX:
        raise InvalidInput(f"Опишите шаг дорожной карты: от {TEXT_MIN} до {TEXT_MAX} знаков.")
    if not settlement:
        raise InvalidInput("Укажите населённый пункт.")
    if await session.get(Sector, sector_code) is None:
        raise NotFound("Такого блока нет.")
    step = RoadmapStep(
        sector_code=sector_code, settlement=settlement, text=text, due=due, created_at=now, created_by=login
    )
    session.add(step)
    await session.commit()
    await session.refresh(step)
    return step


async def get_step(session: AsyncSession, step_id: int) -> RoadmapStep:
    step = await session.get(RoadmapStep, step_id)
    if step is None:
        raise NotFound("Такого шага дорожной карты нет.")
    return step


async def complete_step(session: AsyncSession, *, step_id: int, now: datetime) -> RoadmapStep:
    """Mark the step done; a step done already is refused."""
    step = await get_step(session, step_id)
    if step.done_at is not None:
        raise IllegalTransition("Этот шаг уже отмечен выполненным.", current="done", target="done")
    step.done_at = now
    session.add(step)
    await session.commit()
    await session.refresh(step)
    return step
