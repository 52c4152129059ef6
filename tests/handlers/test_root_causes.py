"""Root causes: which (sector, settlement) problems keep coming back over the weeks, and the plan's steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import root_causes
from handlers.errors import IllegalTransition, InvalidInput, NotFound
from handlers.incidents import close_incident, ingest_message, reject_incident
from storage.models import Staff
from tests.conftest import Clock
from tests.factories import citizen

WATER = "Нет воды в Гранкино, водокачка не работает"
ROAD = "Огромная яма на дороге в Сомово, машины бьют колёса"
NO_PLACE = "Нет воды, водокачка не работает"
# Four weeks: Mondays 23.11, 30.11, 07.12 and 14.12 (the current week); see `seed`.
MONDAYS = [date(2026, 11, 23), date(2026, 11, 30), date(2026, 12, 7), date(2026, 12, 14)]


async def _ingest(session: AsyncSession, clock: Clock, text: str, user: int) -> int:
    result = await ingest_message(session, message=citizen(text, at=clock(), user=user), now=clock())
    assert result.incident is not None and result.incident.id is not None
    return result.incident.id


async def seed(session: AsyncSession, clock: Clock) -> dict[str, int]:
    """Water in Гранкино (zhkh) in weeks 1, 2 and 4 (1, 2 and 1 reports; the first one closed), a rejected one
    in week 3; a road in Сомово in weeks 1 and 3; water without a settlement every week. The clock is left on
    Thursday 17.12, 12:00 in Moscow."""
    curator = await session.get(Staff, 1)
    assert curator is not None
    ids: dict[str, int] = {}
    user = iter(range(900, 1000))
    # Week 1: Tuesday 24.11, 10:00.
    ids["w1"] = await _ingest(session, clock, WATER, next(user))
    ids["r1"] = await _ingest(session, clock, ROAD, next(user))
    await _ingest(session, clock, NO_PLACE, next(user))
    await close_incident(session, incident_id=ids["w1"], staff=curator, now=clock())
    # Week 2: Tuesday 01.12, 10:00 and Sunday 06.12, 23:00 in Moscow (20:00 UTC).
    clock.advance(days=7)
    ids["w2"] = await _ingest(session, clock, WATER, next(user))
    await _ingest(session, clock, NO_PLACE, next(user))
    clock.advance(days=5, hours=13)  # Sunday 06.12, 23:00 Moscow
    ids["w3"] = await _ingest(session, clock, "Опять нет воды в Гранкино, водокачка стоит", next(user))
    # Week 3: Tuesday 08.12, 10:00.
    clock.advance(days=1, hours=11)
    ids["x"] = await _ingest(session, clock, WATER, next(user))
    await reject_incident(session, incident_id=ids["x"], staff=curator, now=clock())
    ids["r2"] = await _ingest(session, clock, ROAD, next(user))
    await _ingest(session, clock, NO_PLACE, next(user))
    # Week 4: Tuesday 15.12, 10:00.
    clock.advance(days=7)
    ids["w4"] = await _ingest(session, clock, WATER, next(user))
    await _ingest(session, clock, NO_PLACE, next(user))
    clock.advance(days=2, hours=2)
    return ids


async def test_the_routing_the_fixture_relies_on(session: AsyncSession, clock: Clock) -> None:
    water = await ingest_message(session, message=citizen(WATER, at=clock(), user=1), now=clock())
    road = await ingest_message(session, message=citizen(ROAD, at=clock(), user=2), now=clock())
    none = await ingest_message(session, message=citizen(NO_PLACE, at=clock(), user=3), now=clock())
    assert water.incident is not None and road.incident is not None and none.incident is not None
    assert (water.incident.sector_code, water.incident.settlement) == ("zhkh", "Гранкино")
    assert (road.incident.sector_code, road.incident.settlement) == ("roads", "Сомово")
    assert (none.incident.sector_code, none.incident.settlement) == ("zhkh", None)


async def test_recurring_problems_and_their_weeks(session: AsyncSession, clock: Clock) -> None:
    ids = await seed(session, clock)
    found = await root_causes.recurring(session, now=clock(), weeks=4, min_weeks=3)
    assert found.week_starts == MONDAYS
    assert [(r.sector_code, r.settlement) for r in found.rows] == [("zhkh", "Гранкино")]
    water = found.rows[0]
    assert water.sector_title == "Жилищно-коммунальное хозяйство"
    # The rejected report of week 3 is not counted; the Sunday 23:00 report is week 2 (Moscow time).
    assert water.weekly == [1, 2, 0, 1] and water.total == 4
    assert water.open == 3  # the first one is closed
    assert water.last_at == datetime(2026, 12, 15, 7, 0, tzinfo=UTC)
    assert water.steps == []
    assert {ids["w1"], ids["w2"], ids["w3"], ids["w4"]} and ids["x"]

    two = await root_causes.recurring(session, now=clock(), weeks=4, min_weeks=2)
    assert [(r.sector_code, r.settlement, r.weekly) for r in two.rows] == [
        ("zhkh", "Гранкино", [1, 2, 0, 1]), ("roads", "Сомово", [1, 0, 1, 0])
    ]  # fmt: skip

    # Older weeks fall out: over the last two weeks only one week has water in Гранкино.
    assert (await root_causes.recurring(session, now=clock(), weeks=2, min_weeks=2)).rows == []
    # A sector scope (a sector head's view).
    scoped = await root_causes.recurring(session, now=clock(), weeks=4, min_weeks=2, sectors=["roads"])
    assert [r.settlement for r in scoped.rows] == ["Сомово"]


async def test_the_default_span_and_its_limits(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    found = await root_causes.recurring(session, now=clock())
    assert len(found.week_starts) == 8 and found.week_starts[-1] == MONDAYS[-1]
    assert [r.settlement for r in found.rows] == ["Гранкино"]
    assert found.rows[0].weekly == [0, 0, 0, 0, 1, 2, 0, 1]
    for weeks, min_weeks in ((0, 1), (53, 3), (4, 5), (4, 0)):
        with pytest.raises(InvalidInput):
            await root_causes.recurring(session, now=clock(), weeks=weeks, min_weeks=min_weeks)


async def test_roadmap_steps(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    step = await root_causes.add_step(
        session,
        sector_code="zhkh",
        settlement="Гранкино",
        text="  Заменить насос водокачки  ",
        due=date(2027, 3, 1),
        login="surkova",
        now=clock(),
    )
    assert (step.text, step.due, step.created_by, step.done_at) == (
        "Заменить насос водокачки", date(2027, 3, 1), "surkova", None
    )  # fmt: skip
    other = await root_causes.add_step(
        session, sector_code="roads", settlement="Сомово", text="Ямочный ремонт", due=None, login="a", now=clock()
    )
    found = await root_causes.recurring(session, now=clock(), weeks=4, min_weeks=3)
    assert [s.id for s in found.rows[0].steps] == [step.id]  # the road's step stays with the road

    clock.advance(days=1)
    done = await root_causes.complete_step(session, step_id=step.id or 0, now=clock())
    assert done.done_at == clock()
    with pytest.raises(IllegalTransition):
        await root_causes.complete_step(session, step_id=step.id or 0, now=clock())
    with pytest.raises(NotFound):
        await root_causes.complete_step(session, step_id=999, now=clock())
    assert other.done_at is None

    for text in ("", "ок", "x" * 2001):
        with pytest.raises(InvalidInput, match="от 3 до 2000 знаков"):
            await root_causes.add_step(
                session, sector_code="zhkh", settlement="Гранкино", text=text, due=None, login="a", now=clock()
            )
    with pytest.raises(NotFound):
        await root_causes.add_step(
            session, sector_code="nope", settlement="Гранкино", text="Шаг плана", due=None, login="a", now=clock()
        )
    with pytest.raises(InvalidInput):
        await root_causes.add_step(
            session, sector_code="zhkh", settlement=" ", text="Шаг плана", due=None, login="a", now=clock()
        )
    assert timedelta(0) <= clock() - done.done_at
