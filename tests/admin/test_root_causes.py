"""Root causes over the API and on their page: the same problems, recording the plan, who may do what."""

from __future__ import annotations

import re

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.users import create_user
from storage.models import AuditEntry, Sector
from tests.admin.conftest import PASSWORD, login
from tests.conftest import Clock
from tests.handlers.test_root_causes import seed

SPAN = {"weeks": "4", "min_weeks": "2"}


async def _users(session: AsyncSession) -> None:
    await create_user(session, login="admin", password=PASSWORD, role="admin")
    await create_user(session, login="surkova", password=PASSWORD, role="officer")
    await create_user(session, login="pos", password=PASSWORD, role="pos_officer")
    head = await create_user(session, login="erokhina", password=PASSWORD, role="sector_head")
    head.staff_id = 5
    session.add(head)
    roads = await session.get(Sector, "roads")
    assert roads is not None
    roads.head_id = 5  # Ерохина heads roads only (not zhkh)
    session.add(roads)
    await session.commit()


async def _csrf(client: httpx.AsyncClient, page: str = "/root-causes") -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', (await client.get(page)).text)
    assert found is not None
    return found.group(1)


async def test_the_page_shows_what_the_api_says(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await _users(session)
    headers = await login(client, "admin")
    response = await client.get("/api/root-causes", params=SPAN, headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["weeks"] == ["2026-11-23", "2026-11-30", "2026-12-07", "2026-12-14"] and data["min_weeks"] == 2
    assert [(p["sector_code"], p["settlement"], p["weekly"], p["total"], p["open"]) for p in data["problems"]] == [
        ("zhkh", "Гранкино", [1, 2, 0, 1], 4, 3), ("roads", "Сомово", [1, 0, 1, 0], 2, 2)
    ]  # fmt: skip
    water = data["problems"][0]
    assert water["link"] == "/incidents?sector=zhkh&settlement=%D0%93%D1%80%D0%B0%D0%BD%D0%BA%D0%B8%D0%BD%D0%BE"
    assert water["steps"] == []
    assert [p["settlement"] for p in (await client.get("/api/root-causes", headers=headers)).json()["problems"]] == [
        "Гранкино"
    ]

    page = await client.get("/root-causes", params=SPAN)
    assert page.status_code == 200, page.text
    html = page.text
    assert '<a href="/root-causes" aria-current="page">Повторяющиеся проблемы</a>' in html
    for problem in data["problems"]:
        row = re.search(rf'<tr data-key="{problem["sector_code"]}/{problem["settlement"]}">(.*?)</tr>', html, re.S)
        assert row is not None
        assert problem["sector_title"] in row.group(1)
        assert f'data-counts="{",".join(map(str, problem["weekly"]))}"' in row.group(1)
        assert f'data-figure="total">{problem["total"]}<' in row.group(1)
        assert f'data-figure="open">{problem["open"]}<' in row.group(1)
        assert problem["link"].replace("&", "&amp;") in row.group(1)

    refused = await client.get("/api/root-causes", params={"weeks": 4, "min_weeks": 5}, headers=headers)
    assert refused.status_code == 422 and "недел" in refused.json()["detail"]


async def test_steps_are_added_and_completed(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await _users(session)
    headers = await login(client, "surkova")
    body = {"sector_code": "zhkh", "settlement": "Гранкино", "text": "Заменить насос", "due": "2027-03-01"}
    added = await client.post("/api/root-causes/steps", json=body, headers=headers)
    assert added.status_code == 201, added.text
    step = added.json()
    assert (step["text"], step["due"], step["created_by"], step["done_at"]) == (
        "Заменить насос", "2027-03-01", "surkova", None
    )  # fmt: skip
    short = await client.post("/api/root-causes/steps", json=body | {"text": "ок"}, headers=headers)
    assert short.status_code == 422 and "от 3 до 2000 знаков" in short.json()["detail"]

    done = await client.post(f"/api/root-causes/steps/{step['id']}/done", headers=headers)
    assert done.status_code == 200 and done.json()["done_at"] is not None
    again = await client.post(f"/api/root-causes/steps/{step['id']}/done", headers=headers)
    assert again.status_code == 409
    assert (await client.post("/api/root-causes/steps/999/done", headers=headers)).status_code == 404

    problems = (await client.get("/api/root-causes", params=SPAN, headers=headers)).json()["problems"]
    assert [s["id"] for s in problems[0]["steps"]] == [step["id"]] and problems[1]["steps"] == []

    # Through the page: a form with the CSRF token, a redirect back with a notice.
    csrf = await _csrf(client)
    form = {"csrf_token": csrf, "sector_code": "roads", "settlement": "Сомово", "text": "Ямочный ремонт"}
    response = await client.post("/root-causes/steps", data=form | SPAN | {"due": "2027-04-01"})
    assert response.status_code == 303
    assert response.headers["location"] == "/root-causes?weeks=4&min_weeks=2&done=step_added"
    html = (await client.get(response.headers["location"])).text
    assert "Шаг дорожной карты записан." in html and "Ямочный ремонт" in html and "срок 01.04.2027" in html
    road_step = re.search(r'<li data-step="(\d+)" data-state="pending">\s*○ Ямочный ремонт', html)
    assert road_step is not None
    response = await client.post(f"/root-causes/steps/{road_step.group(1)}/done", data={"csrf_token": csrf} | SPAN)
    assert response.status_code == 303 and response.headers["location"].endswith("done=step_done")
    html = (await client.get(response.headers["location"])).text
    assert f'<li data-step="{road_step.group(1)}" data-state="done">' in html

    bad = await client.post("/root-causes/steps", data=form | {"text": "ок"})
    assert bad.status_code == 422 and "от 3 до 2000 знаков" in bad.text

    entries = list(await session.exec(select(AuditEntry).order_by(col(AuditEntry.id))))
    assert [(e.login, e.action, e.target) for e in entries if e.action.startswith("roadmap")] == [
        ("surkova", "roadmap_step_added", "roadmap_step"),
        ("surkova", "roadmap_step_done", f"roadmap_step:{step['id']}"),
        ("surkova", "roadmap_step_added", "roadmap_step"),
        ("surkova", "roadmap_step_done", f"roadmap_step:{road_step.group(1)}"),
    ]
    assert entries[-1].data == {} and any(e.data.get("text") == "Ямочный ремонт" for e in entries)


async def test_roles_and_csrf(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await _users(session)
    body = {"sector_code": "zhkh", "settlement": "Гранкино", "text": "Заменить насос"}

    # A sector head sees only their sectors' problems and records nothing.
    head = await login(client, "erokhina")
    seen = (await client.get("/api/root-causes", params=SPAN, headers=head)).json()["problems"]
    assert [p["settlement"] for p in seen] == ["Сомово"]
    assert (await client.post("/api/root-causes/steps", json=body, headers=head)).status_code == 403
    page = await client.get("/root-causes", params=SPAN)
    assert page.status_code == 200 and "Сомово" in page.text and "Гранкино" not in page.text
    assert 'action="/root-causes/steps"' not in page.text
    assert "Повторяющиеся проблемы</a>" in page.text  # in the menu of every role
    refused = await client.post("/root-causes/steps", data=body | {"csrf_token": await _csrf(client)})
    assert refused.status_code == 403 and "Для вашей роли это действие закрыто" in refused.text

    # Whoever handles the social media accounts reads everything but records nothing.
    pos = await login(client, "pos")
    assert len((await client.get("/api/root-causes", params=SPAN, headers=pos)).json()["problems"]) == 2
    assert (await client.post("/api/root-causes/steps", json=body, headers=pos)).status_code == 403

    # A form without the session's CSRF token is refused, and nothing is recorded.
    await login(client, "admin")
    response = await client.post("/root-causes/steps", data=body | {"csrf_token": "wrong"})
    assert response.status_code == 403
    assert (await client.post("/root-causes/steps", data=body)).status_code == 403
    assert (await client.get("/api/root-causes", params=SPAN, headers=await login(client, "admin"))).json()["problems"][
        0
    ]["steps"] == []
    actions = list(await session.exec(select(AuditEntry.action)))
    assert not [a for a in actions if a.startswith("roadmap")]
