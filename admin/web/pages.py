"""The login form, logging out, and the front page."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from admin.api.auth import set_session_cookie
from admin.deps import COOKIE, CurrentUser, Now, SessionDep
from admin.web.common import render
from handlers.users import log_in, log_out

router = APIRouter(include_in_schema=False)

LOGIN_CSRF = "mcu_login_csrf"


def _safe_next(target: str | None) -> str:
    """Only an address of this site: no other host to be sent to after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/incidents"


def _login_form(request: Request, *, error: str = "", next_: str = "", status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", status_code=status_code, login_csrf=token, error=error, next=_safe_next(next_)
    )
    response.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "") -> Response:
    return _login_form(request, next_=next)


@router.post("/login")
async def login_submit(
    request: Request,
    session: SessionDep,
    now: Now,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _login_form(request, error="Страница входа устарела: попробуйте ещё раз.", next_=next, status_code=403)
    result = await log_in(session, login=login, password=password, now=now)
    if result.token is None:
        if result.locked_until is not None:
            error, code = "Слишком много неудачных попыток: вход закрыт на 15 минут.", status.HTTP_429_TOO_MANY_REQUESTS
        else:
            error, code = "Неверный логин или пароль.", status.HTTP_401_UNAUTHORIZED
        return _login_form(request, error=error, next_=next, status_code=code)
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    set_session_cookie(request, response, result.token)
    response.delete_cookie(LOGIN_CSRF)
    return response


@router.post("/logout")
async def logout_submit(request: Request, session: SessionDep, _user: CurrentUser) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        await log_out(session, token=token)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
async def front(_user: CurrentUser) -> Response:
    return RedirectResponse("/incidents", status.HTTP_303_SEE_OTHER)
