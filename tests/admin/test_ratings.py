"""The rating over the API and on its page: the same figures, the previous period, who may see it."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.web.charts import hours, number, percent
from handlers.users import create_user
from tests.admin.conftest import PASSWORD, login
from tests.conftest import Clock
from tests.handlers.test_ratings import LIGHTS_SCORE, ROADS_SCORE, seed

WEEK = {"from": "2026-12-01", "to": "2026-12-07"}
NBSP = "\u00a0"


async def _users(session: AsyncSession) -> None:
    await create_user(session, login="admin", password=PASSWORD, role="admin")
    await create_user(session, login="surkova", password=PASSWORD, role="officer")
    head = await create_user(session, login="erokhina", password=PASSWORD, role="sector_head")
    head.staff_id = 5
    session.add(head)
    await session.commit()


async def test_the_api_rates_sectors_against_the_previous_week(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    await _users(session)
    response = await client.get("/api/ratings", params=WEEK, headers=await login(client, "admin"))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["by"] == "sector" and data["period"] == WEEK
    assert data["previous_period"] == {"from": "2026-11-24", "to": "2026-11-30"}
    assert data["min_ranked"] == 3 and sum(data["weights"].values()) == 100
    rows = {r["key"]: r for r in data["rows"]}
    assert [r["key"] for r in data["rows"]] == ["improvement", "roads", "waste"]
    roads = rows["roads"]
    assert roads["link"] == "/incidents?sector=roads&from=2026-12-01&to=2026-12-07"
    assert roads["current"] | {"score": None} == {
        "incidents": 3, "in_time": 2, "late": 1, "in_time_share": pytest.approx(2 / 3),
        "reaction_hours": pytest.approx(1), "answer_hours": pytest.approx(1), "finished": 1,
        "closed_unanswered": 0, "closed_unanswered_share": 0.0, "replies": 2, "final_replies": 1,
        "final_share": 0.5, "satisfaction": None, "score": None, "rank": 2,
    }  # fmt: skip
    assert roads["current"]["score"] == pytest.approx(ROADS_SCORE)
    assert roads["previous"]["rank"] == 1 and roads["rank_change"] == -1
    assert roads["score_change"] == pytest.approx(ROADS_SCORE - 100)
    assert rows["improvement"]["rank_change"] == 1
    assert rows["improvement"]["current"]["score"] == pytest.approx(LIGHTS_SCORE)
    assert rows["waste"]["current"]["rank"] is None and rows["waste"]["previous"] is None

    people = (
        await client.get("/api/ratings", params=WEEK | {"by": "assignee"}, headers=await login(client, "admin"))
    ).json()
    assert [(r["title"], r["current"]["rank"]) for r in people["rows"]] == [
        ("Волкова Наталья Николаевна", 1), ("Губина Анна Анатольевна", None)
    ]  # fmt: skip
    assert people["rows"][0]["link"] == "/incidents?assignee=1&from=2026-12-01&to=2026-12-07"


async def test_the_page_shows_what_the_api_says(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await _users(session)
    headers = await login(client, "admin")  # also sets the session cookie the page reads
    data = (await client.get("/api/ratings", params=WEEK, headers=headers)).json()
    page = await client.get("/ratings", params=WEEK)
    assert page.status_code == 200, page.text
    html = page.text
    assert "За период 01.12.2026 — 07.12.2026" in html and "24.11.2026 — 30.11.2026" in html
    assert '<a href="/ratings" aria-current="page">Рейтинг</a>' in html

    for row in data["rows"]:
        found = re.search(rf'<tr data-key="{row["key"]}">(.*?)</tr>', html, re.S)
        assert found is not None, row["key"]
        cells = dict(re.findall(r'data-figure="([a-z-]+)">([^<]*)<', found.group(1)))
        current = row["current"]
        assert cells["rank"] == (str(current["rank"]) if current["rank"] else "—")
        assert cells["incidents"] == number(current["incidents"])
        assert cells["in-time"] == percent(current["in_time_share"])
        assert cells["reaction"] == hours(current["reaction_hours"])
        assert cells["answer"] == hours(current["answer_hours"])
        assert cells["closed-unanswered"] == percent(current["closed_unanswered_share"])
        assert cells["final"] == percent(current["final_share"])
        assert cells["satisfaction"] == "нет данных"
        assert cells["score"] == number(current["score"], 1)
    roads = re.search(r'<tr data-key="roads">(.*?)</tr>', html, re.S)
    assert roads is not None
    assert 'data-figure="rank-change">\u22121<' in roads.group(1)
    assert f'data-figure="score">{number(ROADS_SCORE, 1)}<' in roads.group(1) and number(ROADS_SCORE, 1) == "79,6"
    assert f'data-figure="in-time">67{NBSP}%<' in roads.group(1)
    assert 'data-figure="rank-change">+1<' in html  # improvement moved up
    assert "не ранжируется" in html and "вес 40" in html and "опрос ещё не проводится" in html

    people = await client.get("/ratings", params=WEEK | {"by": "assignee"})
    assert people.status_code == 200 and "Волкова Наталья Николаевна" in people.text
    assert "<th>Исполнитель</th>" in people.text


async def test_who_may_see_the_rating(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await _users(session)
    assert (await client.get("/api/ratings")).status_code == 401
    assert (await client.get("/ratings")).headers["location"] == "/login?next=/ratings"

    officer = await login(client, "surkova")
    assert (await client.get("/api/ratings", headers=officer)).status_code == 200
    page = await client.get("/ratings")
    assert page.status_code == 200 and 'href="/ratings"' in page.text

    head = await login(client, "erokhina")
    refused = await client.get("/api/ratings", headers=head)
    assert refused.status_code == 403 and refused.json()["detail"] == "Это доступно не для вашей роли."
    page = await client.get("/ratings")
    assert page.status_code == 403 and 'lang="ru"' in page.text and "страница закрыта" in page.text
    assert "Дороги" not in page.text
    dashboard = await client.get("/dashboard")
    assert dashboard.status_code == 200 and 'href="/ratings"' not in dashboard.text


async def test_periods_are_checked(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await _users(session)
    headers = await login(client, "admin")
    backwards = await client.get("/api/ratings", params={"from": "2026-12-07", "to": "2026-12-01"}, headers=headers)
    assert backwards.status_code == 422 and backwards.json()["detail"] == "Начало периода позже его конца."
    assert (await client.get("/api/ratings", params={"by": "settlement"}, headers=headers)).status_code == 422
    empty = (await client.get("/api/ratings", headers=headers)).json()
    assert empty["rows"] == [] and empty["period"] == {"from": "2026-10-26", "to": "2026-11-24"}
    page = await client.get("/ratings", params={"from": "01.12.2026"})
    assert page.status_code == 422 and "Не удалось прочитать дату «01.12.2026»" in page.text
    assert "За период инцидентов нет." in page.text
    schema = (await client.get("/api/openapi.json", headers=headers)).json()
    assert "/api/ratings" in schema["paths"] and "RatingOut" in schema["components"]["schemas"]
