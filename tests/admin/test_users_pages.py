"""The users and audit pages and their API: only the administrator manages logins; every change is in the trail."""

from __future__ import annotations

import contextlib

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import audit
from handlers.users import create_user
from storage.models import AuditEntry, User
from tests.admin.conftest import PASSWORD, login
from tests.admin.test_pages import form_token, log_in_page
from tests.conftest import Clock


async def admin_page(session: AsyncSession, client: httpx.AsyncClient) -> str:
    await create_user(session, login="admin", password=PASSWORD, role="admin")
    await create_user(session, login="head", password=PASSWORD, role="mcu_head", staff_id=2)
    assert (await log_in_page(client, "admin", PASSWORD)).status_code == 303
    return form_token((await client.get("/users")).text)


async def test_only_the_admin_manages_users_and_reads_the_trail(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await create_user(session, login="admin", password=PASSWORD, role="admin")
    await create_user(session, login="head", password=PASSWORD, role="mcu_head")
    head = await login(client, "head")
    for path in ("/users", "/audit"):
        page = await client.get(path, headers=head)
        assert page.status_code == 403 and "только администратор" in page.text, path
    assert (await client.get("/api/users", headers=head)).status_code == 403
    assert (await client.get("/api/audit", headers=head)).status_code == 403
    new = {"login": "x", "password": PASSWORD, "role": "officer"}
    assert (await client.post("/api/users", json=new, headers=head)).status_code == 403
    assert (await client.post("/users", data=new, headers=head)).status_code == 403

    admin = await login(client, "admin")
    made = await client.post("/api/users", json={**new, "login": "surkova", "staff_id": 3}, headers=admin)
    assert made.status_code == 201 and made.json()["staff_id"] == 3
    short = await client.post("/api/users", json={**new, "password": "short"}, headers=admin)
    assert short.status_code == 422 and "не меньше 10" in short.json()["detail"]
    trail = (await client.get("/api/audit", headers=admin)).json()
    assert [(e["action"], e["login"], e["data"]) for e in trail] == [
        ("user_created", "admin", {"login": "surkova", "role": "officer", "staff_id": 3})
    ]
    assert PASSWORD not in str(trail)


async def test_admin_creates_changes_deactivates_and_resets_by_forms(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        await _forms(session, client, stack)


async def _forms(session: AsyncSession, client: httpx.AsyncClient, stack: contextlib.AsyncExitStack) -> None:
    csrf = await admin_page(session, client)
    data = {"login": "surkova", "password": PASSWORD, "role": "officer", "staff_id": "3"}
    assert (await client.post("/users", data=data)).status_code == 403  # no CSRF token
    done = await client.post("/users", data={**data, "csrf_token": csrf})
    assert done.status_code == 303 and "Пользователь создан" in (await client.get(done.headers["location"])).text
    again = await client.post("/users", data={**data, "csrf_token": csrf})
    assert again.status_code == 422 and "уже есть" in again.text and 'value="surkova"' in again.text

    surkova = (await session.exec(select(User).where(User.login == "surkova"))).one()
    uid = surkova.id
    changed = await client.post(f"/users/{uid}", data={"role": "curator", "staff_id": "", "csrf_token": csrf})
    assert changed.status_code == 303
    session.expire_all()
    surkova = (await session.exec(select(User).where(User.id == uid))).one()
    assert (surkova.role, surkova.staff_id) == ("curator", None)

    other = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    await stack.enter_async_context(other)
    assert (await other.post("/api/auth/login", json={"login": "surkova", "password": PASSWORD})).status_code == 200
    assert (await other.get("/api/auth/me")).status_code == 200
    reset = await client.post(f"/users/{uid}/password", data={"password": "a new long password", "csrf_token": csrf})
    assert reset.status_code == 303
    assert (await other.get("/api/auth/me")).status_code == 401  # the old session ended
    off = await client.post(f"/users/{uid}/active", data={"csrf_token": csrf})
    assert off.status_code == 303
    login_again = await other.post("/api/auth/login", json={"login": "surkova", "password": "a new long password"})
    assert login_again.status_code == 401

    me = (await session.exec(select(User).where(User.login == "admin"))).one()
    myself = await client.post(f"/users/{me.id}/active", data={"csrf_token": csrf})
    assert myself.status_code == 422 and "Нельзя отключить свой вход" in myself.text
    demote = await client.post(f"/users/{me.id}", data={"role": "officer", "staff_id": "", "csrf_token": csrf})
    assert demote.status_code == 422

    actions = list(await session.exec(select(AuditEntry).order_by(col(AuditEntry.id))))
    assert [e.action for e in actions] == ["user_created", "user_changed", "user_changed", "user_changed"]
    assert actions[2].data == {"password_reset": True}
    assert all("a new long password" not in str(e.data) for e in actions)


async def test_audit_page_is_newest_first_and_paginated(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await admin_page(session, client)
    admin = (await session.exec(select(User).where(User.login == "admin"))).one()
    for number in range(1, 56):
        audit.note(session, user=admin, action=f"action_{number}", target="test", now=clock.advance(minutes=1))
    await session.commit()
    first = await client.get("/audit")
    assert first.status_code == 200
    assert first.text.index("action_55") < first.text.index("action_54")
    assert "action_5<" not in first.text and "Старее" in first.text
    second = await client.get("/audit?page=2")
    assert "action_5<" in second.text and "action_55" not in second.text and "Новее" in second.text
