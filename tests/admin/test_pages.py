"""The pages' login: a form with its own CSRF token, redirects, lock-out, logging out with the session's token."""

from __future__ import annotations

import re

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.users import create_user
from tests.admin.conftest import PASSWORD
from tests.conftest import Clock


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


async def log_in_page(client: httpx.AsyncClient, login: str, password: str, next_: str = "") -> httpx.Response:
    page = await client.get("/login", params={"next": next_} if next_ else None)
    data = {"login": login, "password": password, "csrf_token": form_token(page.text), "next": next_}
    return await client.post("/login", data=data)


async def test_pages_lead_to_login_and_back(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await create_user(session, login="head", password=PASSWORD, role="mcu_head")
    first = await client.get("/")
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/"
    page = await client.get("/login")
    assert page.status_code == 200 and "Вход в МЦУ" in page.text and 'lang="ru"' in page.text

    done = await log_in_page(client, "head", PASSWORD, next_="/dashboard")
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert "mcu_session" in client.cookies


async def test_login_form_refuses_forgery_wrong_passwords_and_foreign_redirects(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await create_user(session, login="head", password=PASSWORD, role="mcu_head")
    forged = await client.post("/login", data={"login": "head", "password": PASSWORD, "csrf_token": "x"})
    assert forged.status_code == 403 and "устарела" in forged.text

    wrong = await log_in_page(client, "head", "not the password")
    assert wrong.status_code == 401 and "Неверный логин или пароль" in wrong.text
    for _ in range(4):
        last = await log_in_page(client, "head", "not the password")
    assert last.status_code == 429 and "закрыт на 15 минут" in last.text

    clock.advance(minutes=20)
    away = await log_in_page(client, "head", PASSWORD, next_="//evil.example/")
    assert away.status_code == 303 and away.headers["location"] == "/incidents"


async def test_logout_needs_the_pages_token(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await create_user(session, login="head", password=PASSWORD, role="mcu_head")
    await log_in_page(client, "head", PASSWORD)
    assert (await client.post("/logout", data={"csrf_token": "forged"})).status_code == 403
    me = await client.get("/api/auth/me")
    assert me.status_code == 200
