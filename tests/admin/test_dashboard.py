"""The dashboard: figures against a known set of incidents, the API and the page agreeing, a sector head's scope,
the map and the links to the incident list."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.web.charts import hours, number, percent, plural
from handlers.incidents import accept_incident, answer_incident, ingest_message
from handlers.users import create_user
from storage.models import Incident, Staff
from tests.admin.conftest import login
from tests.conftest import Clock
from tests.factories import citizen

# The names the incident list reads from its address.
LINK_FILTERS = {"status", "sector", "source", "settlement", "assignee", "overdue", "from", "to", "q", "sort", "page"}
NBSP = "\u00a0"


async def _ingest(session: AsyncSession, clock: Clock, text: str, user: int) -> Incident:
    result = await ingest_message(session, message=citizen(text, at=clock(), user=user), now=clock())
    assert result.incident is not None and result.incident.id is not None
    return result.incident


async def seed(session: AsyncSession, clock: Clock) -> dict[str, int]:
    """Six messages on Tuesday 24.11 10:00 and Thursday 26.11 12:00 (Moscow); the clock is left on Thursday 12:00.

    Reaction deadlines (8 working hours) fall on Wednesday 10:00.
    A roads, Тросна: interim answer after 1 h — in time, its answer deadline now runs (not overdue).
    B improvement, Гранкино: final answer after 2 h — in time.
    C education: accepted on Thursday, 50 h after, still unanswered (accepting is not a reaction the citizen
      sees) — late, and overdue (in work, its deadline passed).
    D waste, Тросна: untouched — late and overdue.
    E «Спасибо!» — not an incident: in the status figures only.
    F zhkh, Гранкино: received on Thursday — its deadline is ahead, judged neither way.
    """
    curator = await session.get(Staff, 1)
    assert curator is not None
    ids = {
        "A": await _ingest(session, clock, "Огромная яма на дороге в Тросне, машины бьют колёса", 601),
        "B": await _ingest(session, clock, "Не горит уличный фонарь в Гранкино", 602),
        "C": await _ingest(session, clock, "В школе холодно, дети сидят в куртках", 603),
        "D": await _ingest(session, clock, "Не вывозят мусор в Тросне, контейнеры переполнены", 604),
        "E": await _ingest(session, clock, "Спасибо!", 605),
    }
    numbers = {key: incident.id or 0 for key, incident in ids.items()}
    clock.advance(hours=1)
    await answer_incident(
        session, incident_id=numbers["A"], staff=curator, text="Направили бригаду", now=clock(), final=False
    )
    clock.advance(hours=1)
    await answer_incident(session, incident_id=numbers["B"], staff=curator, text="Фонарь заменён", now=clock())
    clock.advance(hours=48)  # Thursday 26.11, 12:00 in Moscow
    await accept_incident(session, incident_id=numbers["C"], staff=curator, now=clock())
    numbers["F"] = (await _ingest(session, clock, "Нет воды в Гранкино с утра, водопровод", 606)).id or 0

    await create_user(session, login="admin", password="a long test password", role="admin")
    head = await create_user(session, login="erokhina", password="a long test password", role="sector_head")
    head.staff_id = 5  # Ерохина heads «Образование»
    session.add(head)
    await session.commit()
    return numbers


def query(link: str) -> dict[str, str]:
    parts = urlsplit(link)
    assert parts.path == "/incidents"
    found = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert set(found) <= LINK_FILTERS, found
    return found


def links(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [v for k, v in data.items() if k == "link" and v] + [x for v in data.values() for x in links(v)]
    if isinstance(data, list):
        return [x for v in data for x in links(v)]
    return []


async def test_figures_of_a_known_week(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    numbers = await seed(session, clock)
    response = await client.get("/api/dashboard", headers=await login(client, "admin"))
    assert response.status_code == 200, response.text
    data = response.json()
    period = {"from": "2026-10-28", "to": "2026-11-26"}  # the last 30 days, today included
    assert data["period"] == period and data["sectors"] is None

    today = data["today"]
    assert today["date"] == "2026-11-26" and today["week_from"] == "2026-11-23"
    assert today["received"] == {"value": 1, "link": "/incidents?from=2026-11-26&to=2026-11-26"}
    assert today["in_work"] == 4
    assert {s["status"]: s["value"] for s in today["in_work_by_status"]} == {
        "new": 0, "assigned": 2, "in_progress": 2, "waiting": 0
    }  # fmt: skip
    assert today["overdue"] == {"value": 2, "link": "/incidents?overdue=1"}
    assert today["week"] | {"link": None} == {"in_time": 2, "late": 2, "judged": 4, "share": 0.5, "link": None}

    assert data["received"] == {"value": 6, "link": "/incidents?from=2026-10-28&to=2026-11-26"}
    assert (data["deadlines"]["in_time"], data["deadlines"]["late"], data["deadlines"]["share"]) == (2, 2, 0.5)
    reaction, answer = data["times"]["reaction"], data["times"]["answer"]
    assert data["times"]["unit"] == "calendar_hours"
    assert reaction["count"] == 2 and reaction["average_hours"] == pytest.approx((1 + 2) / 2)
    assert reaction["p90_hours"] == pytest.approx(2)  # nearest rank: the 2nd of 2
    assert answer == {"count": 1, "average_hours": pytest.approx(2), "p90_hours": pytest.approx(2)}

    assert {s["status"]: s["value"] for s in data["by_status"]} == {
        "assigned": 2, "in_progress": 2, "answered": 1, "rejected": 1
    }  # fmt: skip
    status_link = next(s["link"] for s in data["by_status"] if s["status"] == "rejected")
    assert query(status_link) == {"status": "rejected", **period}

    sectors = {s["code"]: s for s in data["by_sector"]}
    assert len(sectors) == 15  # every sector shows, also with nothing in it, and those with no sector at all
    # «Спасибо!»: no sector, and no filter of the list selects «no sector».
    assert sectors[None] | {"overdue": None} == {"code": None, "title": "Без блока", "value": 1, "link": None} | {
        "overdue": None
    }
    assert {c: s["value"] for c, s in sectors.items() if s["value"] and c} == {
        "roads": 1, "improvement": 1, "education": 1, "waste": 1, "zhkh": 1
    }  # fmt: skip
    assert {c: s["overdue"]["value"] for c, s in sectors.items() if s["overdue"]["value"]} == {
        "education": 1, "waste": 1
    }  # fmt: skip
    assert query(sectors["waste"]["link"]) == {"sector": "waste", **period}
    assert query(sectors["waste"]["overdue"]["link"]) == {"sector": "waste", "overdue": "1"}

    [source] = data["by_source"]
    assert source["value"] == 6 and source["kind"] == "tg_direct"
    assert source["kind_title"] == "Telegram, личные сообщения боту"
    assert query(source["link"]) == {"source": str(source["id"]), **period}

    weeks = data["weeks"]
    assert len(weeks) == 8 and weeks[-1]["from"] == "2026-11-23" and weeks[-1]["to"] == "2026-11-29"
    assert (weeks[-1]["received"], weeks[-1]["in_time"], weeks[-1]["late"]) == (6, 2, 2)
    assert all(w["received"] == 0 for w in weeks[:-1])
    assert query(weeks[-1]["link"]) == {"from": "2026-11-23", "to": "2026-11-29"}

    places = {s["name"]: s for s in data["settlements"]}
    assert {n: s["value"] for n, s in places.items() if s["value"]} == {"Тросна": 2, "Гранкино": 2}
    assert query(places["Тросна"]["link"]) == {"settlement": "Тросна", **period}
    assert data["unplaced"] == 2  # the school and «Спасибо!» name no place
    assert all(query(link) for link in links(data))  # every link uses only the list's filter names
    assert numbers["F"] > numbers["E"]


async def test_the_page_shows_what_the_api_says(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    headers = await login(client, "admin")  # also sets the session cookie the page reads
    data = (
        await client.get("/api/dashboard", params={"from": "2026-11-01", "to": "2026-11-26"}, headers=headers)
    ).json()
    page = await client.get("/dashboard", params={"from": "2026-11-01", "to": "2026-11-26"})
    assert page.status_code == 200, page.text
    html = page.text

    def figure(name: str) -> str:
        found = re.search(rf'data-figure="{name}">([^<]*)<', html)
        assert found is not None, name
        return found.group(1)

    assert figure("received") == number(data["received"]["value"]) == "6"
    assert figure("today-received") == "1" and figure("in-work") == "4" and figure("overdue") == "2"
    assert figure("share") == percent(data["deadlines"]["share"]) == f"50{NBSP}%"
    assert figure("reaction-avg") == hours(data["times"]["reaction"]["average_hours"]) == f"1,5{NBSP}ч"
    assert figure("reaction-p90") == f"2,0{NBSP}ч"
    assert figure("answer-avg") == f"2,0{NBSP}ч"
    assert "За период 01.11.2026 — 26.11.2026" in html
    assert 'href="/dashboard.css"' not in html and 'href="/static/dashboard.css"' in html
    for link in links(data):
        assert f'href="{link.replace("&", "&amp;")}"' in html, link

    # The map: an SVG drawn here, each settlement a circle with its name, count and a tooltip; no tiles.
    svg = re.search(r'<svg class="chart map".*?</svg>', html, re.S)
    assert svg is not None
    assert svg.group(0).count("<circle") == len(data["settlements"])
    # The biggest circles carry their count inside, the name beside them.
    assert 'text-anchor="middle">2</text>' in svg.group(0) and ">Тросна</text>" in svg.group(0)
    assert f"<title>Тросна (село): 2{NBSP}инцидента</title>" in svg.group(0)
    assert f"<title>Гранкино (деревня): 2{NBSP}инцидента</title>" in svg.group(0)
    assert "%D0%A2%D1%80%D0%BE%D1%81%D0%BD%D0%B0" in svg.group(0)  # linked to ?settlement=Тросна
    assert "http" not in svg.group(0).replace("http://www.w3.org/2000/svg", "")
    trend = re.search(r'<svg class="chart trend".*?</svg>', html, re.S)
    assert trend is not None and f"поступило 6{NBSP}инцидентов, с опозданием 2" in trend.group(0)
    assert "<script" not in html.split("</head>")[1]


async def test_a_sector_head_sees_only_their_sectors(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    data = (await client.get("/api/dashboard", headers=await login(client, "erokhina"))).json()
    assert data["sectors"] == ["education"]
    assert [s["code"] for s in data["by_sector"]] == ["education"]
    assert data["received"]["value"] == 1 and data["today"]["received"]["value"] == 0
    assert data["today"]["in_work"] == 1 and data["today"]["overdue"]["value"] == 1
    assert (data["deadlines"]["in_time"], data["deadlines"]["late"]) == (0, 1)
    assert {s["status"]: s["value"] for s in data["by_status"]} == {"in_progress": 1}
    assert data["times"]["reaction"]["count"] == 0 and data["times"]["answer"]["count"] == 0
    assert all(s["value"] == 0 for s in data["settlements"]) and data["unplaced"] == 1
    page = await client.get("/dashboard")
    assert page.status_code == 200
    assert "Показаны только инциденты ваших блоков: Образование." in page.text
    assert "Дороги" not in page.text


async def test_periods_are_checked_and_login_is_needed(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    assert (await client.get("/api/dashboard")).status_code == 401
    assert (await client.get("/dashboard")).headers["location"] == "/login?next=/dashboard"
    headers = await login(client, "admin")
    backwards = await client.get("/api/dashboard", params={"from": "2026-11-26", "to": "2026-11-01"}, headers=headers)
    assert backwards.status_code == 422 and backwards.json()["detail"] == "Начало периода позже его конца."
    empty = (
        await client.get("/api/dashboard", params={"from": "2026-01-01", "to": "2026-01-31"}, headers=headers)
    ).json()
    assert empty["received"]["value"] == 0 and empty["deadlines"]["share"] is None
    assert empty["times"]["reaction"] == {"count": 0, "average_hours": None, "p90_hours": None}
    assert empty["today"]["overdue"]["value"] == 2  # today's numbers do not depend on the period
    page = await client.get("/dashboard", params={"from": "26.11.2026"})
    assert page.status_code == 422 and "Не удалось прочитать дату «26.11.2026»" in page.text
    schema = (await client.get("/api/openapi.json", headers=headers)).json()
    assert "/api/dashboard" in schema["paths"] and "DashboardOut" in schema["components"]["schemas"]


def test_numbers_are_written_the_russian_way() -> None:
    assert number(1234567) == f"1{NBSP}234{NBSP}567" and number(3.5, 1) == "3,5" and number(None) == "—"
    assert percent(0.875) == f"88{NBSP}%" and percent(None) == "—"
    assert hours(0.5) == f"0,5{NBSP}ч" and hours(72) == f"3{NBSP}дн."
    assert [plural(n, "инцидент", "инцидента", "инцидентов") for n in (1, 2, 5, 11, 21, 112)] == [
        "инцидент", "инцидента", "инцидентов", "инцидентов", "инцидент", "инцидентов"
    ]  # fmt: skip
