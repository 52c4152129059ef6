"""The admin JSON API over HTTP: health, login, access rules and the incident endpoints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.incidents import ingest_message
from handlers.users import create_user
from storage.models import User
from tests.admin.conftest import PASSWORD, login
from tests.conftest import Clock
from tests.factories import citizen


async def seed(session: AsyncSession, clock: Clock) -> None:
    await ingest_message(session, message=citizen("Яма на дороге", at=clock(), user=501), now=clock())
    await ingest_message(session, message=citizen("В школе холодно", at=clock(), user=502), now=clock())
    await create_user(session, login="admin", password=PASSWORD, role="admin")
    head = await create_user(session, login="erokhina", password=PASSWORD, role="sector_head")
    head.staff_id = 5  # Ерохина heads «Образование»
    session.add(head)
    await session.commit()


async def test_health_is_open_and_everything_else_needs_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    for path in ("/api/incidents", "/api/incidents/1", "/api/auth/me", "/api/openapi.json"):
        response = await client.get(path)
        assert response.status_code == 401
        assert response.json()["detail"] == "Нужно войти в систему."
    assert (await client.get("/api/incidents", headers={"Authorization": "Bearer forged"})).status_code == 401
    assert (await client.post("/api/auth/logout")).status_code == 401


def routes(app: Any) -> Iterator[tuple[str, set[str]]]:
    """Every route with its full path, also those of included routers."""
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            for context in route.effective_route_contexts():
                yield context.path, set(context.methods or ())
        elif hasattr(route, "path"):
            yield route.path, set(getattr(route, "methods", None) or ())


async def test_every_route_refuses_anonymous(client: httpx.AsyncClient) -> None:
    """Only login, health and static files are open (platform webhooks are mounted by the process, not here)."""
    app = client._transport.app  # type: ignore[attr-defined]
    open_paths = {"/healthz", "/api/auth/login", "/login", "/static"}
    checked = 0
    for path, methods in routes(app):
        if path in open_paths:
            continue
        for method in methods - {"HEAD", "OPTIONS"}:
            url = re.sub(r"\{[^}]+\}", "1", path)
            response = await client.request(method, url)
            checked += 1
            if path.startswith("/api/"):
                assert response.status_code == 401, (method, path)
            else:  # a page leads to the login form
                assert response.status_code == 303, (method, path)
                assert response.headers["location"].startswith("/login?next="), (method, path)
    assert checked > 15


async def test_wrong_password_is_refused(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    response = await client.post("/api/auth/login", json={"login": "admin", "password": "nope nope nope"})
    assert response.status_code == 401 and response.json()["detail"] == "Неверный логин или пароль."


async def test_admin_lists_and_reads_incidents(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    headers = await login(client, "admin")
    page = (await client.get("/api/incidents", headers=headers)).json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [2, 1]
    assert (await client.get("/api/incidents?sector=roads", headers=headers)).json()["total"] == 1
    assert (await client.get("/api/incidents?status=closed", headers=headers)).json()["total"] == 0
    detail = (await client.get("/api/incidents/1", headers=headers)).json()
    assert detail["text"] == "Яма на дороге" and detail["status_title"] == "назначен"
    assert detail["author_name"] == "Иван Петров" and detail["assignee"] == "Волкова Наталья Николаевна"
    assert [e["kind"] for e in detail["events"]] == ["received", "routed"]
    assert (await client.get("/api/incidents/999", headers=headers)).status_code == 404
    assert (await client.get("/api/incidents?limit=100000", headers=headers)).status_code == 422


async def test_cookie_login_and_logout(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    csrf = (await client.post("/api/auth/login", json={"login": "admin", "password": PASSWORD})).json()["csrf"]
    assert (await client.get("/api/auth/me")).json() == {"login": "admin", "role": "admin", "staff_id": None}
    # A change made with the cookie needs the session's CSRF token.
    refused = await client.post("/api/auth/logout")
    assert refused.status_code == 403 and "устарела" in refused.json()["detail"]
    assert (await client.post("/api/auth/logout", headers={"X-CSRF-Token": "forged"})).status_code == 403
    assert (await client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_sector_head_sees_only_own_sectors(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    headers = await login(client, "erokhina")
    page = (await client.get("/api/incidents", headers=headers)).json()
    assert page["total"] == 1 and page["items"][0]["sector_code"] == "education"
    assert (await client.get("/api/incidents?sector=roads", headers=headers)).json()["total"] == 0
    assert (await client.get("/api/incidents/2", headers=headers)).status_code == 200
    assert (await client.get("/api/incidents/1", headers=headers)).status_code == 404
    users = await session.get(User, 2)
    assert users is not None and users.role == "sector_head"


async def test_schema_is_served_to_staff_only(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    assert (await client.get("/docs")).status_code == 404
    schema = (await client.get("/api/openapi.json", headers=await login(client, "admin"))).json()
    assert "/api/incidents/{incident_id}" in schema["paths"]


async def test_deadline_policies_settings_and_calendar_are_edited_by_managers_only(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    admin, head = await login(client, "admin"), await login(client, "erokhina")

    policies = (await client.get("/api/deadlines/policies", headers=head)).json()
    assert sorted(p["track"] for p in policies) == ["appeal", "social", "urgent"]
    social = next(p for p in policies if p["track"] == "social")
    assert (social["reaction_minutes"], social["answer_minutes"]) == (480, 3360)

    change = {**social, "reaction_minutes": 240}
    assert (await client.put(f"/api/deadlines/policies/{social['id']}", json=change, headers=head)).status_code == 403
    changed = await client.put(f"/api/deadlines/policies/{social['id']}", json=change, headers=admin)
    assert changed.status_code == 200 and changed.json()["reaction_minutes"] == 240
    bad = await client.post("/api/deadlines/policies", json={**change, "sector_code": "луна"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"] == "Такого блока нет в справочнике."
    roads = await client.post("/api/deadlines/policies", json={**change, "sector_code": "roads"}, headers=admin)
    assert roads.status_code == 201
    assert (await client.delete(f"/api/deadlines/policies/{social['id']}", headers=admin)).status_code == 422
    assert (await client.delete(f"/api/deadlines/policies/{roads.json()['id']}", headers=admin)).status_code == 204

    settings = (await client.get("/api/deadlines/settings", headers=head)).json()
    assert settings["reminder_points"] == "50%, 2h, 0" and settings["start"] == "09:00"
    wrong = await client.put("/api/deadlines/settings", json={**settings, "reminder_points": "скоро"}, headers=admin)
    assert wrong.status_code == 422 and "точку напоминания" in wrong.json()["detail"]
    assert (await client.get("/api/deadlines/settings", headers=admin)).json() == settings  # nothing half-kept
    new = {**settings, "start": "08:00", "end": "17:00", "lunch_start": "12:00", "lunch_end": "13:00"}
    assert (await client.put("/api/deadlines/settings", json=new, headers=admin)).json()["start"] == "08:00"

    day = {"working": True, "start": "09:00:00", "end": "16:00:00", "note": "предпраздничный"}
    assert (await client.put("/api/calendar/days/2026-12-30", json=day, headers=head)).status_code == 403
    saved = await client.put("/api/calendar/days/2026-12-30", json=day, headers=admin)
    assert saved.status_code == 200 and saved.json()["end"] == "16:00:00"
    assert [d["day"] for d in (await client.get("/api/calendar/days", headers=head)).json()] == ["2026-12-30"]
    assert (await client.delete("/api/calendar/days/2026-12-30", headers=admin)).status_code == 204

    # A new incident follows the changed policy: 4 working hours from Tuesday 10:00 with lunch 12–13 = 15:00.
    result = await ingest_message(session, message=citizen("Нет воды", at=clock(), user=503), now=clock())
    assert result.incident is not None and result.incident.due_at is not None
    assert result.incident.due_at.astimezone(ZoneInfo("Europe/Moscow")).hour == 15
