"""The admin web backend: pages for the МЦУ head, curator and officer, and the JSON API they use.

Platform webhooks (Telegram, VK Callback API) are mounted here by the composition root as extra routers.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations at runtime.

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from admin import api, web
from admin.deps import CurrentUser, SessionDep
from admin.settings import AdminSettings
from storage.db import SessionPool

STATIC = Path(__file__).parent / "static"


def create_app(
    *,
    session_pool: SessionPool,
    settings: AdminSettings,
    clock: Callable[[], datetime],
    routers: list[APIRouter] | None = None,
) -> FastAPI:
    # The schema is served behind login below; no public docs pages (they would also pull scripts from a CDN).
    app = FastAPI(title="МЦУ: администрирование", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.session_pool, app.state.settings, app.state.clock = session_pool, settings, clock

    @app.exception_handler(HTTPException)
    async def pages_go_to_login(request: Request, error: HTTPException) -> Response:
        """A page asked for without login leads to the login form; the API answers 401 as it is."""
        if error.status_code == status.HTTP_401_UNAUTHORIZED and not request.url.path.startswith("/api/"):
            return RedirectResponse(f"/login?next={request.url.path}", status.HTTP_303_SEE_OTHER)
        return await http_exception_handler(request, error)

    @app.get("/healthz", tags=["service"])
    async def healthz(session: SessionDep) -> dict[str, str]:
        """Report that the server and its database answer."""
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        return {"status": "ok"}

    @app.get("/api/openapi.json", tags=["service"])
    async def openapi(_user: CurrentUser) -> dict[str, Any]:
        """Describe this API (OpenAPI 3)."""
        return app.openapi()

    for router in (*api.ROUTERS, *web.ROUTERS):
        app.include_router(router)
    for router in routers or []:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
