"""The rating of sectors and assignees: figures, score and ranks over a known set of incidents, the previous period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import ratings
from handlers.incidents import (
    answer_incident,
    citizen_rates,
    citizen_says_solved,
    close_incident,
    ingest_message,
    mark_reply_published,
    reject_incident,
)
from storage.models import Staff
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link

# Moscow days: the previous week Tue 24.11 – Mon 30.11, the rated week Tue 01.12 – Mon 07.12.
PREVIOUS = (datetime(2026, 11, 23, 21, 0, tzinfo=UTC), datetime(2026, 11, 30, 21, 0, tzinfo=UTC))
CURRENT = (datetime(2026, 11, 30, 21, 0, tzinfo=UTC), datetime(2026, 12, 7, 21, 0, tzinfo=UTC))

ROADS = (
    "Огромная яма на дороге, машины бьют колёса",
    "Разбит асфальт на трассе до трассы М2, ямы",
    "Не чистят дорогу от снега, гололёд на проезжей части",
)
LIGHTS = (
    "Не горит уличный фонарь у остановки",
    "Погасли фонари освещения на улице",
    "Сломан светильник уличного освещения, темно",
)
WASTE = "Не вывозят мусор, контейнеры переполнены"

# The expected scores, by the formula of handlers.ratings (weights 40, 15, 15, 10, 10; satisfaction has no data).
ROADS_SCORE = (40 * 200 / 3 + 15 * 100 + 15 * 100 + 10 * 100 + 10 * 50) / 90
LIGHTS_SCORE = (40 * 100 + 15 * (100 - 100 / 24) + 15 * 100 + 10 * 200 / 3 + 10 * 100) / 90
VOLKOVA_SCORE = (40 * 500 / 6 + 15 * (100 - 60 / 24) + 15 * 100 + 10 * 75 + 10 * 75) / 90


async def _ingest(session: AsyncSession, clock: Clock, text: str, user: int, sector: str) -> int:
    result = await ingest_message(session, message=citizen(text, at=clock(), user=user), now=clock())
    assert result.incident is not None and result.incident.id is not None
    assert result.incident.sector_code == sector and result.incident.problem_id is None, text
    return result.incident.id


async def seed(session: AsyncSession, clock: Clock) -> dict[str, int]:
    """Two weeks of incidents; the clock is left on Thursday 03.12, 12:00 in Moscow.

    Previous week (Tue 24.11, 10:00): three roads incidents answered finally after 1 h (score 100), three
    improvement incidents never touched (late; score 0), so roads ranks 1st and improvement 2nd.

    Rated week (Tue 01.12, 10:00), reaction deadlines on Wednesday 10:00:
    roads R1 final answer after 1 h, R2 interim answer after 1 h, R3 untouched (late);
    improvement I1 and I2 final answers after 2 h, I3 closed without an answer after 2 h;
    waste W1 untouched (one incident: listed, not ranked); «Спасибо!» and a rejected message: not counted.
    """
    curator = await session.get(Staff, 1)
    assert curator is not None
    ids: dict[str, int] = {}
    for n, text in enumerate(ROADS):
        ids[f"r{n + 1}"] = await _ingest(session, clock, text, 700 + n, "roads")
    for n, text in enumerate(LIGHTS):
        ids[f"i{n + 1}"] = await _ingest(session, clock, text, 710 + n, "improvement")
    clock.advance(hours=1)
    for n in range(3):
        await answer_incident(session, incident_id=ids[f"r{n + 1}"], staff=curator, text="Сделано", now=clock())

    clock.advance(days=7, hours=-1)  # Tuesday 01.12, 10:00
    for n, text in enumerate(ROADS):
        ids[f"R{n + 1}"] = await _ingest(session, clock, text, 800 + n, "roads")
    for n, text in enumerate(LIGHTS):
        ids[f"I{n + 1}"] = await _ingest(session, clock, text, 810 + n, "improvement")
    ids["W1"] = await _ingest(session, clock, WASTE, 820, "waste")
    thanks = await ingest_message(session, message=citizen("Спасибо!", at=clock(), user=821), now=clock())
    assert thanks.incident is not None and thanks.incident.sector_code is None
    ids["X"] = await _ingest(session, clock, "Яма на дороге у моста, колесо пробил", 822, "roads")
    await reject_incident(session, incident_id=ids["X"], staff=curator, now=clock())

    clock.advance(hours=1)
    await answer_incident(session, incident_id=ids["R1"], staff=curator, text="Яму засыпали", now=clock())
    await answer_incident(session, incident_id=ids["R2"], staff=curator, text="Передали", now=clock(), final=False)
    clock.advance(hours=1)
    await answer_incident(session, incident_id=ids["I1"], staff=curator, text="Заменили", now=clock())
    await answer_incident(session, incident_id=ids["I2"], staff=curator, text="Заменили", now=clock())
    await close_incident(session, incident_id=ids["I3"], staff=curator, now=clock())
    clock.advance(hours=50)  # Thursday 03.12, 12:00
    return ids


async def test_sectors_rated_over_a_known_week(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    found = await ratings.rate(session, start=CURRENT[0], end=CURRENT[1], by="sector", now=clock())
    assert found.previous_start == PREVIOUS[0]
    assert [(r.key, r.title, r.current.rank) for r in found.rows] == [
        ("improvement", "Благоустройство", 1), ("roads", "Дороги", 2), ("waste", "Твердые коммунальные отходы", None)
    ]  # fmt: skip
    lights, roads, waste = (r.current for r in found.rows)

    assert (roads.count, roads.in_time, roads.late) == (3, 2, 1)  # the rejected report is not counted
    assert roads.in_time_share == pytest.approx(2 / 3)
    assert roads.reaction_hours == pytest.approx(1) and roads.answer_hours == pytest.approx(1)
    assert (roads.finished, roads.closed_unanswered, roads.closed_unanswered_share) == (1, 0, 0)
    assert (roads.replies, roads.final_replies, roads.final_share) == (2, 1, 0.5)
    assert roads.satisfaction is None and ratings.points(roads)["satisfaction"] is None
    assert roads.score == pytest.approx(ROADS_SCORE)

    assert (lights.count, lights.in_time, lights.late) == (3, 3, 0)
    assert lights.reaction_hours == pytest.approx(2) and lights.answer_hours == pytest.approx(2)
    assert (lights.finished, lights.closed_unanswered) == (3, 1)
    assert (lights.replies, lights.final_replies) == (2, 2)
    assert lights.score == pytest.approx(LIGHTS_SCORE)

    # One incident, late, nothing else to measure: the score rests on the share in time alone; not ranked.
    assert (waste.count, waste.late, waste.reaction_hours, waste.final_share) == (1, 1, None, None)
    assert waste.score == pytest.approx(0) and waste.rank is None


async def test_the_change_since_the_previous_period(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    found = await ratings.rate(session, start=CURRENT[0], end=CURRENT[1], now=clock())
    rows = {r.key: r for r in found.rows}
    assert rows["roads"].previous is not None and rows["improvement"].previous is not None
    assert (rows["roads"].previous.rank, rows["roads"].previous.score) == (1, pytest.approx(100))
    assert (rows["improvement"].previous.rank, rows["improvement"].previous.score) == (2, pytest.approx(0))
    assert rows["improvement"].rank_change == 1 and rows["roads"].rank_change == -1
    assert rows["improvement"].score_change == pytest.approx(LIGHTS_SCORE)
    assert rows["roads"].score_change == pytest.approx(ROADS_SCORE - 100)
    assert rows["waste"].previous is None and rows["waste"].rank_change is None
    assert rows["waste"].score_change is None

    # The previous week on its own: the same figures as the comparison saw.
    before = await ratings.rate(session, start=PREVIOUS[0], end=PREVIOUS[1], now=clock())
    assert [(r.key, r.current.rank, r.current.count) for r in before.rows] == [("roads", 1, 3), ("improvement", 2, 3)]


async def test_assignees_and_a_sector_scope(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    found = await ratings.rate(session, start=CURRENT[0], end=CURRENT[1], by="assignee", now=clock())
    # Волкова heads both roads and improvement; Губина heads waste.
    assert [(r.key, r.title, r.current.count, r.current.rank) for r in found.rows] == [
        ("1", "Волкова Наталья Николаевна", 6, 1), ("6", "Губина Анна Анатольевна", 1, None)
    ]  # fmt: skip
    volkova = found.rows[0].current
    assert (volkova.in_time, volkova.late, volkova.finished, volkova.closed_unanswered) == (5, 1, 4, 1)
    assert volkova.reaction_hours == pytest.approx(1.6) and volkova.answer_hours == pytest.approx(5 / 3)
    assert (volkova.replies, volkova.final_replies) == (4, 3)
    assert volkova.score == pytest.approx(VOLKOVA_SCORE)
    assert found.rows[0].rank_change == 0  # first in both weeks

    scoped = await ratings.rate(session, start=CURRENT[0], end=CURRENT[1], sectors=["roads"], now=clock())
    assert [(r.key, r.current.rank) for r in scoped.rows] == [("roads", 1)]


def test_the_score_formula() -> None:
    empty = ratings.Figures(0, 0, 0, None, None, 0, 0, 0, 0)
    assert ratings.score(empty) is None
    perfect = ratings.Figures(5, 5, 0, 0.5, 10.0, 5, 0, 5, 5)
    assert ratings.score(perfect) == pytest.approx(100)
    # Satisfaction, once there is data, is one more term of weight 10: 3 of 5 is 50 points.
    perfect.satisfaction = 3.0
    assert ratings.score(perfect) == pytest.approx((90 * 100 + 10 * 50) / 100)
    slow = ratings.Figures(5, 5, 0, 13.0, 132.0, 5, 0, 5, 5)
    assert ratings.points(slow)["reaction"] == pytest.approx(50) and ratings.points(slow)["answer"] == pytest.approx(50)
    assert ratings.points(ratings.Figures(5, 5, 0, 30.0, 300.0, 5, 0, 5, 5))["answer"] == 0
    assert sum(ratings.WEIGHTS.values()) == 100


async def test_an_unknown_grouping_is_refused(session: AsyncSession, clock: Clock) -> None:
    grouping: Any = "settlement"
    with pytest.raises(ValueError, match="unknown grouping"):
        await ratings.rate(session, start=CURRENT[0], end=CURRENT[1], by=grouping, now=clock())


async def test_satisfaction_comes_from_the_survey(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    result = await ingest_message(session, message=citizen("Яма на дороге у школы", at=clock()), now=clock())
    assert result.incident is not None and result.incident.id is not None
    reply = await answer_incident(session, incident_id=result.incident.id, staff=head, text="Засыпали", now=clock())
    await mark_reply_published(session, reply_id=reply.id or 0, platform_message_id="1", now=clock())
    await citizen_says_solved(session, incident_id=result.incident.id, citizen_id="501", solved=True, now=clock())
    await citizen_rates(session, incident_id=result.incident.id, citizen_id="501", rating=4, now=clock())
    rating = await ratings.rate(
        session, start=clock() - timedelta(days=1), end=clock() + timedelta(hours=1), now=clock()
    )
    roads = next(r for r in rating.rows if r.key == "roads")
    assert roads.current.satisfaction == 4.0
