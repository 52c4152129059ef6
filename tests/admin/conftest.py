"""Fixtures of the admin tests: the app over HTTP (in-process) and logging in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from admin.app import create_app
from admin.settings import AdminSettings
from storage.db import SessionPool
from tests.conftest import Clock

PASSWORD = "a long test password"


@pytest.fixture
async def client(session_pool: SessionPool, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(session_pool=session_pool, settings=AdminSettings(), clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def login(client: httpx.AsyncClient, name: str) -> dict[str, str]:
    response = await client.post("/api/auth/login", json={"login": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}
