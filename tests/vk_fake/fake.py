"""A fake VK API 5.199 over real HTTP: methods, Bots Long Poll, Callback payloads, limits and injected faults."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Final, Literal, Self

from aiohttp import web

from tests.vk_fake.vkscript import ScriptError, parse_execute

log = logging.getLogger(__name__)

API_VERSION: Final = "5.199"
MAX_EXECUTE_CALLS: Final = 25
MAX_MESSAGE_LENGTH: Final = 4096
# VK caps `wait` at 90 s; the fake caps it lower (max_wait) so that tests never sit through a real long poll.
VK_MAX_WAIT: Final = 90.0
FIRST_TS: Final = 1
ERROR_MESSAGES: Final[Mapping[int, str]] = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    12: "Unable to compile code",
    13: "Runtime error occurred during code invocation",
    14: "Captcha needed",
    15: "Access denied",
    18: "User was deleted or banned",
    27: "Group authorization failed: method is unavailable with group auth.",
    29: "Rate limit reached",
    100: "One of the parameters specified was missing or invalid",
    203: "Access to group denied",
    212: "Access to post comments denied",
    901: "Can't send messages for users without permission",
    914: "Message is too long",
}
# Methods VK refuses to community tokens (their docs list only user and service keys).
GROUP_AUTH_UNAVAILABLE: Final = frozenset({"wall.get", "wall.getById", "wall.getComments", "wall.post"})
CLIENT_INFO: Final[Mapping[str, Any]] = {
    "button_actions": ["text", "vkpay", "open_app", "location", "open_link", "callback", "intent_subscribe"],
    "keyboard": True,
    "inline_keyboard": True,
    "carousel": True,
    "lang_id": 0,
}

TokenKind = Literal["group", "user"]
Event = dict[str, Any]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    owner_id: int  # the community id (positive) for a community token, the user id for a user token


@dataclass
class Call:
    """One method call as the fake received it (an `execute` also logs each call inside it, in_execute=True)."""

    method: str
    params: dict[str, Any]  # without access_token; form values are strings, execute arguments keep their JSON types
    token: str | None
    at: float  # time.monotonic()
    in_execute: bool = False
    error_code: int | None = None  # the VK error answered, None on success
    http_status: int = 200


class MethodError(Exception):
    """A VK API error answer."""

    def __init__(self, code: int, detail: str | None = None, *, message: str | None = None) -> None:
        base = ERROR_MESSAGES.get(code, ERROR_MESSAGES[1])
        self.code = code
        self.message = message or (f"{base}: {detail}" if detail else base)
        super().__init__(f"[{code}] {self.message}")


def _invalid(name: str, why: str = "is invalid") -> MethodError:
    return MethodError(100, f"{name} {why}")


class _Params:
    """Method parameters: strings from a form, or JSON values from an `execute` call."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def integer(self, name: str, default: int | None = None) -> int:
        if not self.has(name):
            if default is None:
                raise _invalid(name, "is undefined")
            return default
        value = self.values[name]
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _invalid(name, "not integer") from None

    def optional(self, name: str) -> int | None:
        return self.integer(name) if self.has(name) else None

    def text(self, name: str, default: str = "") -> str:
        return str(self.values[name]) if self.has(name) else default

    def items(self, name: str) -> list[str]:
        value = self.values.get(name)
        if value in (None, ""):
            return []
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]


@dataclass
class _Community:
    id: int
    name: str
    screen_name: str
    kind: str
    long_poll: bool
    event_types: set[str] | None
    admins: set[int]
    events: list[Event] = field(default_factory=list)
    lp_key: str | None = None
    lp_failures: deque[int] = field(default_factory=deque)
    lp_http_failures: deque[int] = field(default_factory=deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    secret: str | None = None
    allowed_peers: set[int] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    conversation_ids: dict[int, Iterator[int]] = field(default_factory=dict)
    random_ids: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def ts(self) -> int:
        return FIRST_TS + len(self.events)

    def api(self) -> dict[str, Any]:
        picture = f"https://sun9-1.userapi.com/fake/club{self.id}"
        photos = {f"photo_{size}": f"{picture}_{size}.jpg" for size in (50, 100, 200)}
        return {"id": self.id, "name": self.name, "screen_name": self.screen_name, "is_closed": 0, "type": self.kind,
                **photos}  # fmt: skip


@dataclass
class _User:
    id: int
    first_name: str
    last_name: str
    screen_name: str | None

    def api(self, fields: Iterable[str] = ()) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "first_name": self.first_name, "last_name": self.last_name,
                                "can_access_closed": True, "is_closed": False}  # fmt: skip
        if "screen_name" in fields:
            data["screen_name"] = self.screen_name or f"id{self.id}"
        return data


@dataclass
class _Wall:
    # Posts and comments of one wall share one id sequence, as on VK.
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    closed: set[int] = field(default_factory=set)

    def comments_of(self, post_id: int) -> list[dict[str, Any]]:
        return sorted((c for c in self.comments.values() if c["post_id"] == post_id), key=lambda c: c["id"])


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _event_id() -> str:
    return secrets.token_hex(20)


class FakeVk:
    """The VK API for tests, served on 127.0.0.1; state helpers must be called from the loop the server runs in."""

    def __init__(self, *, clock: Callable[[], int] | None = None, max_wait: float = 1.0) -> None:
        self.clock: Callable[[], int] = clock or (lambda: int(time.time()))
        self.max_wait = max_wait
        # Requests per second per token, as VK limits them; None switches the limit off for that kind.
        self.rate_limits: dict[TokenKind, int | None] = {"group": 20, "user": 3}
        self.group_auth_unavailable: set[str] = set(GROUP_AUTH_UNAVAILABLE)
        self.calls: list[Call] = []
        self.rate_violations = 0
        self.tokens: dict[str, Token] = {}
        self.revoked: set[str] = set()
        self.communities: dict[int, _Community] = {}
        self.users: dict[int, _User] = {}
        self._walls: defaultdict[int, _Wall] = defaultdict(_Wall)
        self._item_comments: defaultdict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
        self._item_ids: defaultdict[tuple[str, int], Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._failures: defaultdict[str, deque[tuple[int, str | None]]] = defaultdict(deque)
        self._http_failures: defaultdict[str, deque[int]] = defaultdict(deque)
        self._delays: defaultdict[str, deque[float]] = defaultdict(deque)
        self._recent: defaultdict[str, deque[float]] = defaultdict(deque)
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._handlers: dict[str, Callable[[_Params, Token], Any]] = {
            "groups.getById": self._groups_get_by_id,
            "groups.getLongPollServer": self._groups_get_long_poll_server,
            "users.get": self._users_get,
            "wall.get": self._wall_get,
            "wall.getComments": self._wall_get_comments,
            "wall.createComment": self._wall_create_comment,
            "messages.send": self._messages_send,
            "photos.createComment": lambda p, t: self._item_create_comment("photo", p, t),
            "video.createComment": lambda p, t: self._item_create_comment("video", p, t),
            "board.createComment": self._board_create_comment,
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/method/{name}", self._serve_method)
        app.router.add_get("/lp/{group_id}", self._serve_long_poll)
        # A short shutdown: close() already wakes every waiting handler.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"
        log.info("fake VK API at %s", self._base_url)

    async def close(self) -> None:
        self._closing.set()
        for community in self.communities.values():
            community.wakeup.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """What the product's VK_API_BASE should be (no trailing slash)."""
        if self._base_url is None:
            raise RuntimeError("the fake VK is not started")
        return self._base_url

    # -- state: accounts ---------------------------------------------------------------------------------------

    def add_community(
        self,
        group_id: int,
        name: str,
        screen_name: str,
        token: str | None,
        *,
        long_poll: bool = True,
        event_types: Iterable[str] | None = None,
        admins: Iterable[int] = (),
        kind: str = "group",
    ) -> None:
        """A community; its events are logged always (Callback API), `long_poll` lets getLongPollServer work."""
        self.communities[group_id] = _Community(
            id=group_id, name=name, screen_name=screen_name, kind=kind, long_poll=long_poll,
            event_types=set(event_types) if event_types is not None else None, admins=set(admins),
        )  # fmt: skip
        if token is not None:
            self.add_token(token, "group", group_id)

    def add_user(
        self, user_id: int, first_name: str, last_name: str, token: str | None = None, *, screen_name: str | None = None
    ) -> None:
        self.users[user_id] = _User(id=user_id, first_name=first_name, last_name=last_name, screen_name=screen_name)
        if token is not None:
            self.add_token(token, "user", user_id)

    def add_token(self, token: str, kind: TokenKind, owner_id: int) -> None:
        self.tokens[token] = Token(kind=kind, owner_id=owner_id)
        self.revoked.discard(token)

    def revoke_token(self, token: str) -> None:
        """From now on the token answers error 5, as after the owner revoked it."""
        self.revoked.add(token)

    def set_callback_secret(self, group_id: int, secret: str | None) -> None:
        self.communities[group_id].secret = secret

    def allow_messages(self, group_id: int, user_id: int) -> None:
        """The user allowed the community's messages (writing to it does the same)."""
        self.communities[group_id].allowed_peers.add(user_id)

    # -- state: walls and comments -----------------------------------------------------------------------------

    def add_post(
        self,
        owner_id: int,
        text: str,
        from_id: int | None = None,
        post_type: str = "post",
        *,
        comments_open: bool = True,
    ) -> int:
        """A wall post (owner_id < 0 for a community); queues wall_post_new on a community wall."""
        wall = self._walls[owner_id]
        post_id = next(wall.ids)
        wall.posts[post_id] = {"id": post_id, "owner_id": owner_id, "from_id": owner_id if from_id is None else from_id,
                               "date": self.clock(), "text": text, "post_type": post_type}  # fmt: skip
        if not comments_open:
            wall.closed.add(post_id)
        if owner_id < 0:
            self._emit(-owner_id, "wall_post_new", self._post_view(owner_id, wall.posts[post_id]))
        return post_id

    def add_comment(
        self,
        owner_id: int,
        post_id: int,
        from_id: int,
        text: str,
        reply_to_comment: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> int:
        """A comment under a post (a reply when reply_to_comment is set); queues wall_reply_new on a community wall."""
        wall = self._walls[owner_id]
        if post_id not in wall.posts:
            raise KeyError(f"no post wall{owner_id}_{post_id}")
        comment_id = next(wall.ids)
        comment: dict[str, Any] = {"id": comment_id, "from_id": from_id, "date": self.clock(), "text": text,
                                   "post_id": post_id, "owner_id": owner_id, "parents_stack": []}  # fmt: skip
        if reply_to_comment is not None:
            target = wall.comments[reply_to_comment]
            # VK threads have two levels: a reply to a reply joins the thread of the top comment.
            comment["parents_stack"] = list(target["parents_stack"]) or [target["id"]]
            comment["reply_to_user"] = target["from_id"]
            comment["reply_to_comment"] = target["id"]
        if attachments:
            comment["attachments"] = attachments
        wall.comments[comment_id] = comment
        if owner_id < 0:
            self._emit(-owner_id, "wall_reply_new", {**comment, "post_owner_id": owner_id})
        return comment_id

    def edit_comment(self, owner_id: int, comment_id: int, text: str) -> None:
        comment = self._walls[owner_id].comments[comment_id]
        comment["text"] = text
        if owner_id < 0:
            self._emit(-owner_id, "wall_reply_edit", {**comment, "post_owner_id": owner_id})

    def delete_comment(self, owner_id: int, comment_id: int, deleter_id: int | None = None) -> None:
        comment = self._walls[owner_id].comments[comment_id]
        comment["deleted"] = True
        if owner_id < 0:
            deleter = comment["from_id"] if deleter_id is None else deleter_id
            deleted = {"owner_id": owner_id, "id": comment_id, "deleter_id": deleter, "post_id": comment["post_id"]}
            self._emit(-owner_id, "wall_reply_delete", deleted)

    def comments(self, owner_id: int, post_id: int) -> list[dict[str, Any]]:
        """Every comment of a post, replies and deleted ones included, oldest first."""
        return [dict(comment) for comment in self._walls[owner_id].comments_of(post_id)]

    def add_photo_comment(self, owner_id: int, photo_id: int, from_id: int, text: str) -> int:
        """A comment under a photo (photos themselves are not modelled); queues photo_comment_new."""
        return self._add_item_comment("photo", owner_id, photo_id, from_id, text)

    def add_video_comment(self, owner_id: int, video_id: int, from_id: int, text: str) -> int:
        return self._add_item_comment("video", owner_id, video_id, from_id, text)

    def add_board_post(self, group_id: int, topic_id: int, from_id: int, text: str) -> int:
        """A post in a discussion topic of the community; queues board_post_new."""
        return self._add_item_comment("topic", -group_id, topic_id, from_id, text)

    def item_comments(
        self, kind: Literal["photo", "video", "topic"], owner_id: int, item_id: int
    ) -> list[dict[str, Any]]:
        return [dict(comment) for comment in self._item_comments[kind, owner_id, item_id]]

    # -- state: community messages -----------------------------------------------------------------------------

    def send_to_community(
        self, group_id: int, from_id: int, text: str, attachments: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """A user writes to the community; queues message_new and returns the message."""
        community = self.communities[group_id]
        community.allowed_peers.add(from_id)
        message = self._new_message(community, peer_id=from_id, from_id=from_id, text=text, out=0)
        message["attachments"] = attachments or []
        self._emit(group_id, "message_new", {"message": message, "client_info": dict(CLIENT_INFO)})
        return message

    def sent_messages(self, group_id: int | None = None, peer_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the communities sent (messages.send), oldest first."""
        found = []
        for community in self.communities.values():
            if group_id is None or community.id == group_id:
                found += [m for m in community.messages if m["out"] and peer_id in (None, m["peer_id"])]
        return found

    # -- events ------------------------------------------------------------------------------------------------

    def queue_event(self, group_id: int, type: str, object: dict[str, Any], *, into: int | None = None) -> Event:
        """A raw event (any type, any group_id in its envelope) queued into the long poll of `into` (or group_id)."""
        event = {"group_id": group_id, "type": type, "event_id": _event_id(), "v": API_VERSION, "object": object}
        self._append_event(self.communities[group_id if into is None else into], event)
        return event

    def events(self, group_id: int) -> list[Event]:
        return list(self.communities[group_id].events)

    def callback_payload(self, event: Event) -> dict[str, Any]:
        """The body the Callback API would POST for this event."""
        payload = dict(event)
        community = self.communities.get(int(event["group_id"]))
        if community is not None and community.secret is not None:
            payload["secret"] = community.secret
        return payload

    # -- faults ------------------------------------------------------------------------------------------------

    def fail(self, method: str, code: int, times: int = 1, msg: str | None = None) -> None:
        """The next `times` calls of `method` (inside execute too) answer VK error `code`."""
        self._failures[method].extend([(code, msg)] * times)

    def fail_http(self, method: str, status: int, times: int = 1) -> None:
        """The next `times` HTTP requests for `method` answer `status` with a plain-text body."""
        self._http_failures[method].extend([status] * times)

    def delay(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out at once but answered `seconds` late."""
        self._delays[method].extend([seconds] * times)

    def lp_fail(self, group_id: int, code: int) -> None:
        """The next a_check answers {"failed": code}; 2 and 3 also expire the key, as VK does."""
        self.communities[group_id].lp_failures.append(code)

    def lp_fail_http(self, group_id: int, status: int, times: int = 1) -> None:
        self.communities[group_id].lp_http_failures.extend([status] * times)

    # -- waiting (for end-to-end tests, where the product acts on its own) -------------------------------------

    async def wait_until(self, condition: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until `condition()` is truthy, re-checking after every call; return its value."""
        async with asyncio.timeout(timeout):
            while not (value := condition()):
                changed = self._changed
                await changed.wait()
        return value

    async def wait_for_call(
        self, method: str, where: Callable[[Call], bool] = lambda _c: True, *, since: int = 0, timeout: float = 5.0
    ) -> Call:
        """The first call of `method` at or after index `since` of `calls` that `where` accepts."""
        found: Call = await self.wait_until(
            lambda: next((c for c in self.calls[since:] if c.method == method and where(c)), None), timeout
        )
        return found

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    # -- HTTP --------------------------------------------------------------------------------------------------

    async def _serve_method(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            params.update({key: str(value) for key, value in (await request.post()).items()})
        token = params.pop("access_token", None)
        call = self._log(Call(method=name, params=params, token=token, at=time.monotonic()))
        status, body = self._answer(call)
        delays = self._delays.get(name)
        if delays:
            await self._sleep(delays.popleft())
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, dumps=_dumps)

    def _answer(self, call: Call) -> tuple[int, dict[str, Any] | str]:
        http_failures = self._http_failures.get(call.method)
        if http_failures:
            call.http_status = http_failures.popleft()
            return call.http_status, HTTPStatus(call.http_status).phrase
        try:
            token = self._authorize(call.token)
            self._limit_rate(call.token or "", token)
            self._injected(call.method)
            if call.method == "execute":
                return 200, self._execute(_Params(call.params), call.token, token)
            return 200, {"response": self._dispatch(call.method, _Params(call.params), token)}
        except MethodError as error:
            call.error_code = error.code
            return 200, {"error": self._error_body(error, call)}

    def _error_body(self, error: MethodError, call: Call) -> dict[str, Any]:
        shown = [("method", call.method), ("oauth", "1"), *((k, str(v)) for k, v in call.params.items())]
        body: dict[str, Any] = {"error_code": error.code, "error_msg": error.message,
                                "request_params": [{"key": k, "value": v} for k, v in shown]}  # fmt: skip
        if error.code == 14:
            sid = secrets.token_hex(6)
            body |= {"captcha_sid": sid, "captcha_img": f"{self.base_url}/captcha.php?sid={sid}"}
        return body

    def _authorize(self, token: str | None) -> Token:
        if not token:
            raise MethodError(5, message="User authorization failed: no access_token passed.")
        if token in self.revoked:
            raise MethodError(5, message="User authorization failed: invalid session.")
        found = self.tokens.get(token)
        if found is None:
            raise MethodError(5)
        return found

    def _limit_rate(self, key: str, token: Token) -> None:
        limit = self.rate_limits.get(token.kind)
        if limit is None:
            return
        now = time.monotonic()
        window = self._recent[key]
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            # A refused request is not counted: VK's window holds the requests it served.
            self.rate_violations += 1
            raise MethodError(6)
        window.append(now)

    def _injected(self, method: str) -> None:
        failures = self._failures.get(method)
        if failures:
            code, msg = failures.popleft()
            raise MethodError(code, message=msg)

    def _dispatch(self, method: str, params: _Params, token: Token) -> Any:
        handler = self._handlers.get(method)
        if handler is None:
            log.warning("fake VK: %s is not implemented; answering error 3 as VK does for unknown methods", method)
            raise MethodError(3)
        if token.kind == "group" and method in self.group_auth_unavailable:
            raise MethodError(27)
        return handler(params, token)

    def _execute(self, params: _Params, token_text: str | None, token: Token) -> dict[str, Any]:
        try:
            script = parse_execute(params.text("code"))
        except ScriptError as error:
            raise MethodError(12, str(error)) from error
        if len(script.calls) > MAX_EXECUTE_CALLS:
            raise MethodError(13, f"too many API calls ({len(script.calls)} > {MAX_EXECUTE_CALLS})")
        responses: list[Any] = []
        errors: list[dict[str, Any]] = []
        for method, args in script.calls:
            inner = self._log(Call(method=method, params=args, token=token_text, at=time.monotonic(), in_execute=True))
            try:
                self._injected(method)
                responses.append(self._dispatch(method, _Params(args), token))
            except MethodError as error:
                inner.error_code = error.code
                responses.append(False)
                errors.append({"method": method, "error_code": error.code, "error_msg": error.message})
        body: dict[str, Any] = {"response": responses if script.as_list else responses[0]}
        if errors:
            body["execute_errors"] = errors
        return body

    async def _serve_long_poll(self, request: web.Request) -> web.StreamResponse:
        community = self.communities.get(int(request.match_info["group_id"]))
        if community is None:
            return web.json_response({"failed": 2})
        if community.lp_http_failures:
            status = community.lp_http_failures.popleft()
            return web.Response(status=status, text=HTTPStatus(status).phrase)
        query = request.query
        if community.lp_failures:
            code = community.lp_failures.popleft()
            if code == 1:
                return web.json_response({"failed": 1, "ts": str(community.ts)})
            community.lp_key = None
            return web.json_response({"failed": code})
        if query.get("act") != "a_check" or not query.get("key") or query.get("key") != community.lp_key:
            return web.json_response({"failed": 2})
        try:
            ts = int(query.get("ts", ""))
        except ValueError:
            ts = -1
        if not FIRST_TS <= ts <= community.ts:
            # A ts the history never had (a future one, say, after the fake restarted) is treated as lost history.
            return web.json_response({"failed": 1, "ts": str(community.ts)})
        try:
            wait = max(0.0, min(float(query.get("wait", "0")), VK_MAX_WAIT, self.max_wait))
        except ValueError:
            wait = 0.0
        deadline = asyncio.get_running_loop().time() + wait
        while community.ts <= ts and not self._closing.is_set():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            wakeup = community.wakeup
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), remaining)
        # Events stay in the history: an old ts gets them again, as on VK.
        updates = community.events[ts - FIRST_TS :]
        return web.json_response({"ts": str(community.ts), "updates": updates}, dumps=_dumps)

    # -- methods -----------------------------------------------------------------------------------------------

    def _groups_get_by_id(self, params: _Params, token: Token) -> dict[str, Any]:
        names = params.items("group_ids") or params.items("group_id")
        if not names:
            if token.kind != "group":
                raise _invalid("group_ids", "is undefined")
            names = [str(token.owner_id)]
        return {"groups": [self._community(name).api() for name in names], "profiles": []}

    def _groups_get_long_poll_server(self, params: _Params, token: Token) -> dict[str, Any]:
        community = self._community(str(params.integer("group_id")))
        if token.kind == "group" and token.owner_id != community.id:
            raise MethodError(15, "no access to this group")
        if token.kind == "user" and token.owner_id not in community.admins:
            raise MethodError(15, "you are not an administrator of this group")
        if not community.long_poll:
            raise _invalid("longpoll for this group", "is not enabled.")
        # A new key each time: the previous one stops working ({"failed": 2}).
        community.lp_key = secrets.token_hex(20)
        return {"key": community.lp_key, "server": f"{self.base_url}/lp/{community.id}", "ts": str(community.ts)}

    def _users_get(self, params: _Params, token: Token) -> list[dict[str, Any]]:
        names = params.items("user_ids") or params.items("user_id")
        if not names and token.kind == "user":
            names = [str(token.owner_id)]
        fields = params.items("fields")
        found = []
        for name in names:
            user = self._user(name)
            if user is not None:
                found.append(user.api(fields))
            elif name.lstrip("-").isdigit() and int(name) > 0:
                found.append({"id": int(name), "first_name": "DELETED", "last_name": "", "deactivated": "deleted",
                              "can_access_closed": True, "is_closed": False})  # fmt: skip
        return found

    def _wall_get(self, params: _Params, token: Token) -> dict[str, Any]:
        owner_id = self._owner(params, token)
        wall = self._walls[owner_id]
        kind = params.text("filter", "all")
        posts = sorted(wall.posts.values(), key=lambda p: p["id"], reverse=True)
        if kind == "suggests":
            posts = [p for p in posts if p["post_type"] == "suggest"]
        elif kind == "postponed":
            posts = [p for p in posts if p["post_type"] == "postpone"]
        else:
            posts = [p for p in posts if p["post_type"] not in ("suggest", "postpone")]
            if kind == "owner":
                posts = [p for p in posts if p["from_id"] == owner_id]
            elif kind == "others":
                posts = [p for p in posts if p["from_id"] != owner_id]
        offset, count = params.integer("offset", 0), min(params.integer("count", 20), 100)
        return {"count": len(posts), "items": [self._post_view(owner_id, p) for p in posts[offset : offset + count]]}

    def _wall_get_comments(self, params: _Params, token: Token) -> dict[str, Any]:
        owner_id = self._owner(params, token)
        post_id = params.integer("post_id")
        wall = self._walls[owner_id]
        if post_id not in wall.posts:
            raise MethodError(15, "post was not found")
        every = wall.comments_of(post_id)
        replies: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
        for comment in every:
            if comment["parents_stack"] and not comment.get("deleted"):
                replies[comment["parents_stack"][0]].append(comment)
        thread_of = params.optional("comment_id")
        if thread_of is not None:
            level = replies[thread_of]
        else:
            # A deleted comment stays (as a stub) only while its thread has replies.
            level = [c for c in every if not c["parents_stack"] and (not c.get("deleted") or replies[c["id"]])]
        descending = params.text("sort", "asc") == "desc"
        if descending:
            level = level[::-1]
        start = params.optional("start_comment_id")
        if start is not None:
            level = [c for c in level if (c["id"] <= start if descending else c["id"] >= start)]
        offset, count = params.integer("offset", 0), min(params.integer("count", 10), 100)
        thread_items = min(params.integer("thread_items_count", 0), 10)
        can_post = post_id not in wall.closed
        items = []
        for comment in level[offset : offset + count]:
            item = self._comment_view(comment)
            if thread_of is None:
                thread = replies[comment["id"]]
                item["thread"] = {"count": len(thread), "items": [self._comment_view(r) for r in thread[:thread_items]],
                                  "can_post": can_post, "show_reply_button": True, "groups_can_post": True}  # fmt: skip
            items.append(item)
        return {"count": sum(not c.get("deleted") for c in every), "current_level_count": len(level),
                "can_post": can_post, "show_reply_button": True, "groups_can_post": True, "items": items}  # fmt: skip

    def _wall_create_comment(self, params: _Params, token: Token) -> dict[str, Any]:
        owner_id = self._owner(params, token)
        post_id = params.integer("post_id")
        text = self._comment_text(params)
        wall = self._walls[owner_id]
        if post_id not in wall.posts:
            raise MethodError(15, "post was not found")
        if post_id in wall.closed:
            raise MethodError(212)
        author = self._author(token, owner_id, params.optional("from_group"))
        reply_to = params.optional("reply_to_comment")
        if reply_to is not None:
            target = wall.comments.get(reply_to)
            if target is None or target["post_id"] != post_id or target.get("deleted"):
                raise _invalid("reply_to_comment")
        attachments = [{"type": "raw", "raw": a} for a in params.items("attachments")] or None
        comment_id = self.add_comment(owner_id, post_id, author, text, reply_to, attachments)
        return {"comment_id": comment_id, "parents_stack": wall.comments[comment_id]["parents_stack"]}

    def _item_create_comment(self, kind: Literal["photo", "video"], params: _Params, token: Token) -> int:
        owner_id = self._owner(params, token)
        item_id = params.integer(f"{kind}_id")
        text = self._comment_text(params)
        author = self._author(token, owner_id, params.optional("from_group"))
        return self._add_item_comment(kind, owner_id, item_id, author, text, params.optional("reply_to_comment"))

    def _board_create_comment(self, params: _Params, token: Token) -> int:
        group_id = params.integer("group_id")
        self._community(str(group_id))
        topic_id = params.integer("topic_id")
        text = self._comment_text(params)
        # For board.createComment from_group is a flag (1 = as the community), not a community id.
        as_group = group_id if params.integer("from_group", 0) else None
        author = self._author(token, -group_id, as_group)
        return self._add_item_comment("topic", -group_id, topic_id, author, text)

    def _messages_send(self, params: _Params, token: Token) -> int:
        if token.kind != "group":
            raise MethodError(15, "the fake sends messages as a community only")
        community = self.communities[token.owner_id]
        peer_id = params.optional("peer_id") or params.optional("user_id")
        if peer_id is None:
            raise _invalid("peer_id", "is undefined")
        if not params.has("random_id"):
            raise _invalid("random_id", "is a required parameter")
        random_id = params.integer("random_id")
        text = params.text("message")
        if not text and not params.has("attachment") and not params.has("forward"):
            raise _invalid("message", "is empty or invalid")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise MethodError(914)
        if peer_id not in community.allowed_peers:
            raise MethodError(901)
        # random_id 0 switches VK's duplicate check off; any other value sends once.
        if random_id and (peer_id, random_id) in community.random_ids:
            return community.random_ids[peer_id, random_id]
        replied: dict[str, Any] | None = None
        if params.has("reply_to"):
            reply_to = params.integer("reply_to")
            replied = next((m for m in community.messages if m["id"] == reply_to and m["peer_id"] == peer_id), None)
            if replied is None:
                raise _invalid("reply_to")
        forward: Any = None
        if params.has("forward"):
            try:
                forward = json.loads(params.text("forward"))
            except json.JSONDecodeError:
                raise _invalid("forward") from None
        message = self._new_message(community, peer_id=peer_id, from_id=-community.id, text=text, out=1)
        message["random_id"] = random_id
        if replied is not None:
            message["reply_message"] = {k: replied[k] for k in ("id", "date", "from_id", "peer_id", "text")}
        if forward is not None:
            message["forward"] = forward
        if params.has("attachment"):
            message["attachments"] = [{"type": "raw", "raw": a} for a in params.items("attachment")]
        community.messages.append(message)
        if random_id:
            community.random_ids[peer_id, random_id] = message["id"]
        # VK reports the community's own outgoing messages as message_reply (the object is the message itself).
        self._emit(community.id, "message_reply", dict(message))
        return int(message["id"])

    # -- helpers -----------------------------------------------------------------------------------------------

    def _log(self, call: Call) -> Call:
        self.calls.append(call)
        self._touch()
        return call

    def _touch(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _emit(self, group_id: int, kind: str, obj: dict[str, Any]) -> Event | None:
        community = self.communities.get(group_id)
        if community is None or (community.event_types is not None and kind not in community.event_types):
            return None
        event = {"group_id": group_id, "type": kind, "event_id": _event_id(), "v": API_VERSION, "object": obj}
        self._append_event(community, event)
        return event

    def _append_event(self, community: _Community, event: Event) -> None:
        community.events.append(event)
        wakeup, community.wakeup = community.wakeup, asyncio.Event()
        wakeup.set()
        self._touch()

    def _community(self, name: str) -> _Community:
        for prefix in ("club", "public", "event", "-"):
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                name = name[len(prefix) :]
        if name.isdigit() and int(name) in self.communities:
            return self.communities[int(name)]
        for community in self.communities.values():
            if community.screen_name == name:
                return community
        raise _invalid("group_ids")

    def _user(self, name: str) -> _User | None:
        if name.startswith("id") and name[2:].isdigit():
            name = name[2:]
        if name.isdigit():
            return self.users.get(int(name))
        return next((u for u in self.users.values() if u.screen_name == name), None)

    def _owner(self, params: _Params, token: Token) -> int:
        owner_id = params.optional("owner_id")
        if owner_id is not None:
            return owner_id
        return -token.owner_id if token.kind == "group" else token.owner_id

    def _author(self, token: Token, owner_id: int, from_group: int | None) -> int:
        """Who a comment made with this token is from; the rules VK applies to community keys and admins."""
        if token.kind == "group":
            if owner_id != -token.owner_id:
                raise MethodError(15, "a community key comments only in its own community")
            if from_group and from_group != token.owner_id:
                raise _invalid("from_group")
            return -token.owner_id
        if from_group:
            community = self.communities.get(from_group)
            if community is None or token.owner_id not in community.admins:
                raise MethodError(15, "you are not an administrator of this group")
            return -from_group
        return token.owner_id

    def _comment_text(self, params: _Params) -> str:
        text = params.text("message")
        if not text and not params.has("attachments") and not params.has("sticker_id"):
            raise _invalid("message", "is empty or invalid")
        return text

    def _add_item_comment(
        self, kind: str, owner_id: int, item_id: int, from_id: int, text: str, reply_to: int | None = None
    ) -> int:
        comment_id = next(self._item_ids[kind, owner_id])
        comment: dict[str, Any] = {"id": comment_id, "from_id": from_id, "date": self.clock(), "text": text,
                                   f"{kind}_owner_id": owner_id, f"{kind}_id": item_id}  # fmt: skip
        if reply_to is not None:
            comment["reply_to_comment"] = reply_to
        self._item_comments[kind, owner_id, item_id].append(comment)
        if owner_id < 0:
            event = {"photo": "photo_comment_new", "video": "video_comment_new", "topic": "board_post_new"}[kind]
            self._emit(-owner_id, event, dict(comment))
        return comment_id

    def _new_message(self, community: _Community, *, peer_id: int, from_id: int, text: str, out: int) -> dict[str, Any]:
        conversation = community.conversation_ids.setdefault(peer_id, itertools.count(1))
        message: dict[str, Any] = {
            "id": next(community.message_ids), "date": self.clock(), "peer_id": peer_id, "from_id": from_id,
            "text": text, "out": out, "conversation_message_id": next(conversation), "attachments": [],
            "fwd_messages": [], "important": False, "is_hidden": False,
        }  # fmt: skip
        if not out:
            community.messages.append(message)
        return message

    def _post_view(self, owner_id: int, post: dict[str, Any]) -> dict[str, Any]:
        wall = self._walls[owner_id]
        count = sum(not c.get("deleted") for c in wall.comments_of(post["id"]))
        can_post = int(post["id"] not in wall.closed)
        return {**post, "attachments": [], "comments": {"count": count, "can_post": can_post, "groups_can_post": True},
                "likes": {"count": 0, "user_likes": 0, "can_like": 1, "can_publish": 1},
                "reposts": {"count": 0, "user_reposted": 0}, "views": {"count": 1},
                "is_favorite": False, "marked_as_ads": 0}  # fmt: skip

    @staticmethod
    def _comment_view(comment: dict[str, Any]) -> dict[str, Any]:
        if comment.get("deleted"):
            keep = ("id", "from_id", "date", "post_id", "owner_id", "parents_stack")
            return {**{k: comment[k] for k in keep}, "text": "", "deleted": True}
        return dict(comment)
