"""Logging in and out over the API: a bearer token for programs, the session cookie for the pages."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from admin.deps import COOKIE, CurrentUser, Now, SessionDep, settings
from handlers.users import LoginResult, log_in, log_out

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginIn(BaseModel):
    login: str
    password: str


class TokenOut(BaseModel):
    token: str
    csrf: str


class MeOut(BaseModel):
    login: str
    role: str
    staff_id: int | None


def refusal(result: LoginResult) -> HTTPException:
    if result.locked_until is not None:
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "Слишком много неудачных попыток входа: вход временно закрыт, попробуйте через 15 минут.",
        )
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "Неверный логин или пароль.")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=settings(request).secure_cookie)


@router.post("/login")
async def login(body: LoginIn, request: Request, response: Response, session: SessionDep, now: Now) -> TokenOut:
    """Log in with a login and password: returns a bearer token (and sets the session cookie for the pages)."""
    result = await log_in(session, login=body.login, password=body.password, now=now)
    if result.token is None:
        raise refusal(result)
    set_session_cookie(request, response, result.token)
    return TokenOut(token=result.token, csrf=result.csrf)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, response: Response, session: SessionDep, _user: CurrentUser) -> None:
    """End the current session."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE)
    if token:
        await log_out(session, token=token)
    response.delete_cookie(COOKIE)


@router.get("/me")
async def me(user: CurrentUser) -> MeOut:
    """Say who is logged in."""
    return MeOut(login=user.login, role=user.role, staff_id=user.staff_id)
