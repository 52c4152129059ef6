"""End-to-end test harness: runs the telegram-test-api Bot API emulator and plays simulated users."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

import httpx

logger = logging.getLogger(__name__)

EMULATOR_DIR: Final = Path(__file__).resolve().parent
SERVER_JS: Final = EMULATOR_DIR / "server.js"
READY_PREFIX: Final = "TELEGRAM_EMULATOR_READY"
DEFAULT_TOKEN: Final = "123456789:TEST-emulator-token"
# Telegram's service account that posts automatic forwards of channel posts into discussion groups.
TELEGRAM_SERVICE_USER_ID: Final = 777000
_HARNESS_ONLY_KEY: Final = "x_emulator"
_NPM_TIMEOUT_S: Final = 600.0
_STOP_TIMEOUT_S: Final = 5.0

Message = dict[str, Any]
"""A Telegram Message (or Update) as JSON, exactly as the Bot API would send it."""

ChatType = Literal["private", "group", "supergroup", "channel"]


class EmulatorError(RuntimeError):
    """The emulator could not be installed, started or asked something."""


@dataclass(frozen=True)
class User:
    """A simulated Telegram user."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "ru"

    def to_api(self) -> dict[str, Any]:
        """Return the Bot API User object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class Chat:
    """A simulated Telegram chat: a private chat, a (super)group or a channel."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False

    @classmethod
    def private(cls, user: User) -> Chat:
        """Return the private chat of the bot with `user` (its id is the user's id)."""
        return cls(
            id=user.id,
            type="private",
            username=user.username,
            first_name=user.first_name,
            last_name=user.last_name,
        )

    @classmethod
    def supergroup(cls, chat_id: int, title: str, *, username: str | None = None) -> Chat:
        """Return a supergroup; Telegram gives those ids of the form -100xxxxxxxxxx."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, got {chat_id}")
        return cls(id=chat_id, type="supergroup", title=title, username=username)

    @classmethod
    def channel(cls, chat_id: int, title: str, *, username: str | None = None) -> Chat:
        """Return a channel (as seen in sender_chat / forward_origin of discussion-group messages)."""
        if chat_id >= 0:
            raise ValueError(f"channel ids are negative, got {chat_id}")
        return cls(id=chat_id, type="channel", title=title, username=username)

    def to_api(self) -> dict[str, Any]:
        """Return the Bot API Chat object."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.is_forum:
            data["is_forum"] = True
        return data


def _pinned_version(folder: Path) -> str | None:
    """Return the telegram-test-api version that package.json pins."""
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    version = manifest.get("dependencies", {}).get("telegram-test-api")
    return str(version) if version is not None else None


def _installed_version(folder: Path) -> str | None:
    marker = folder / "node_modules" / "telegram-test-api" / "package.json"
    if not marker.is_file():
        return None
    return str(json.loads(marker.read_text(encoding="utf-8")).get("version"))


@contextlib.contextmanager
def _install_lock(folder: Path) -> Iterator[None]:
    # Parallel test workers must not run npm in the same folder at once.
    with (folder / ".npm-install.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_node_modules(folder: Path = EMULATOR_DIR) -> None:
    """Install the emulator's npm packages (npm ci) unless the pinned version is already there."""
    wanted = _pinned_version(folder)
    if _installed_version(folder) == wanted:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise EmulatorError(
            "npm is not on PATH: the e2e tests need Node.js (>= 18) with npm to install and run "
            f"the Telegram Bot API emulator in {folder}"
        )
    with _install_lock(folder):
        if _installed_version(folder) == wanted:
            return
        verb = "ci" if (folder / "package-lock.json").is_file() else "install"
        command = [npm, verb, "--no-audit", "--no-fund", "--loglevel=error"]
        logger.info("installing the Telegram emulator: %s (in %s)", " ".join(command), folder)
        try:
            result = subprocess.run(
                command,
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=_NPM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EmulatorError(f"`npm {verb}` in {folder} took longer than {_NPM_TIMEOUT_S:.0f} s") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-4000:]
            raise EmulatorError(f"`npm {verb}` in {folder} failed (exit {result.returncode}):\n{output}")
    if _installed_version(folder) != wanted:
        raise EmulatorError(f"npm finished but telegram-test-api {wanted} is not in {folder}/node_modules")


def _without_harness_fields(message: Message) -> Message:
    return {key: value for key, value in message.items() if key != _HARNESS_ONLY_KEY}


def _command_entities(text: str) -> list[dict[str, Any]]:
    # Telegram marks a leading /command as a bot_command entity; aiogram's Command filter does not
    # need it, but product code looking at entities would.
    if not text.startswith("/"):
        return []
    length = len(text.split(maxsplit=1)[0])
    return [{"type": "bot_command", "offset": 0, "length": length}]


def _callback_data_of(message: Message) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [
        button["callback_data"]
        for row in markup.get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]


class BotApiEmulator:
    """A running telegram-test-api emulator (node server.js) plus simulated-user helpers.

    Use it as a context manager, sync (`with`) or async (`async with`). Every HTTP helper opens its
    own short-lived httpx client, so one emulator may outlive the event loop of a single test.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        port: int = 0,
        startup_timeout: float = 30.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.token = token
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._request_timeout = request_timeout
        self._process: subprocess.Popen[str] | None = None
        self._readers: list[threading.Thread] = []
        self._ready = threading.Event()
        self._base_url: str | None = None
        self._output_tail: collections.deque[str] = collections.deque(maxlen=50)

    # ------------------------------------------------------------------ process lifecycle

    @property
    def base_url(self) -> str:
        """Root URL of the emulator, e.g. http://127.0.0.1:41234."""
        if self._base_url is None:
            raise EmulatorError("the emulator is not started")
        return self._base_url

    @property
    def api_base(self) -> str:
        """Base for aiogram's TelegramAPIServer.from_base(): `{api_base}/bot{token}/{method}` works."""
        return self.base_url

    def start(self) -> None:
        """Install the npm packages if needed, start `node server.js` and wait until it listens."""
        if self._process is not None:
            raise EmulatorError("the emulator is already started")
        ensure_node_modules()
        node = shutil.which("node")
        if node is None:
            raise EmulatorError("node is not on PATH: the e2e tests need Node.js (>= 18)")
        self._ready.clear()
        self._process = subprocess.Popen(
            [node, str(SERVER_JS), str(self._requested_port), "--exit-on-stdin-close"],
            cwd=EMULATOR_DIR,
            # The emulator exits when this pipe closes, so it dies with the test process.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, "NODE_ENV": "test"},
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        self._readers = [
            threading.Thread(target=self._read_stdout, args=(self._process.stdout,), daemon=True),
            threading.Thread(target=self._read_stderr, args=(self._process.stderr,), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        logger.info("Telegram emulator (pid %s) listens on %s", self._process.pid, self._base_url)

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        while not self._ready.wait(0.05):
            if self._process.poll() is not None:
                raise EmulatorError(
                    f"the emulator exited with code {self._process.returncode} before it was ready:\n"
                    + "\n".join(self._output_tail)
                )
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"the emulator was not ready within {self._startup_timeout} s:\n" + "\n".join(self._output_tail)
                )

    def _read_stdout(self, stream: Any) -> None:
        for raw_line in stream:
            line = raw_line.rstrip("\n")
            self._output_tail.append(line)
            if line.startswith(READY_PREFIX) and not self._ready.is_set():
                self._base_url = line.split(maxsplit=1)[1].strip()
                self._ready.set()
            else:
                logger.debug("emulator: %s", line)

    def _read_stderr(self, stream: Any) -> None:
        for raw_line in stream:
            line = raw_line.rstrip("\n")
            self._output_tail.append(line)
            logger.warning("emulator stderr: %s", line)

    def close(self) -> None:
        """Stop the node process (idempotent)."""
        process, self._process = self._process, None
        self._base_url = None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            logger.warning("the emulator (pid %s) ignored SIGTERM; killing it", process.pid)
            process.kill()
            process.wait(_STOP_TIMEOUT_S)
        for reader in self._readers:
            reader.join(_STOP_TIMEOUT_S)
        self._readers = []
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        # Starting may run npm and waits for node; keep the event loop free meanwhile.
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    # ------------------------------------------------------------------ HTTP plumbing

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False, timeout=self._request_timeout) as client:
            response = await client.request(method, path, json=json_body, params=params)
        try:
            payload = response.json()
        except ValueError as exc:
            raise EmulatorError(f"{method} {path}: HTTP {response.status_code}: {response.text[:500]}") from exc
        if not isinstance(payload, dict) or not payload.get("ok"):
            raise EmulatorError(f"{method} {path}: HTTP {response.status_code}: {payload}")
        return payload.get("result")

    def _bot_path(self, suffix: str, token: str | None) -> str:
        return f"/harness/bot{token or self.token}/{suffix}"

    # ------------------------------------------------------------------ simulated users

    def build_message(
        self,
        chat: Chat,
        user: User,
        text: str,
        *,
        message_id: int | None = None,
        reply_to: Message | None = None,
        thread_id: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Message:
        """Build a user's Message JSON (no message_id unless given: the emulator assigns one).

        With `reply_to`, the message replies to it; a reply to an automatic forward of a channel
        post (a "comment") or to a message in a thread also gets that thread's message_thread_id,
        as Telegram does. `extra` is merged last and may set any Message field.
        """
        message: Message = {
            "date": int(time.time()),
            "chat": chat.to_api(),
            "from": user.to_api(),
            "text": text,
        }
        if message_id is not None:
            message["message_id"] = message_id
        entities = _command_entities(text)
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            replied = _without_harness_fields(reply_to)
            replied.pop("reply_to_message", None)  # Telegram never nests replies deeper
            message["reply_to_message"] = replied
            if thread_id is None:
                if replied.get("is_automatic_forward"):
                    thread_id = int(replied["message_id"])
                elif replied.get("message_thread_id") is not None:
                    thread_id = int(replied["message_thread_id"])
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        if extra:
            message.update(extra)
        return message

    async def _send_user_message(self, message: Message, token: str | None) -> Message:
        body = {**message, "botToken": token or self.token}
        result = await self._request("POST", "/sendMessage", json_body=body)
        if not isinstance(result, dict):
            raise EmulatorError(f"the emulator did not return the stored message: {result!r}")
        return result

    async def send_private(
        self,
        user: User,
        text: str,
        *,
        reply_to: Message | None = None,
        extra: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Message:
        """`user` writes `text` to the bot in private, optionally replying to `reply_to`; return the Message."""
        message = self.build_message(Chat.private(user), user, text, reply_to=reply_to, extra=extra)
        return await self._send_user_message(message, token)

    async def send_group(
        self,
        chat: Chat,
        user: User,
        text: str,
        reply_to: Message | None = None,
        *,
        thread_id: int | None = None,
        extra: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Message:
        """`user` writes `text` in group `chat`, optionally replying to `reply_to`; return the Message."""
        if chat.type not in ("group", "supergroup"):
            raise ValueError(f"send_group needs a group or supergroup chat, got {chat.type}")
        message = self.build_message(chat, user, text, reply_to=reply_to, thread_id=thread_id, extra=extra)
        return await self._send_user_message(message, token)

    async def forward_channel_post(
        self,
        group: Chat,
        channel: Chat,
        text: str,
        *,
        channel_message_id: int = 1,
        token: str | None = None,
    ) -> Message:
        """Post the automatic forward of a channel post into its discussion `group`; return it.

        Users' comments to the post are replies to this message: `send_group(group, user, text,
        reply_to=<this>)` or, for full control, `inject_update({"message": build_message(...)})`.
        """
        now = int(time.time())
        service_user = User(id=TELEGRAM_SERVICE_USER_ID, first_name="Telegram", language_code=None)
        message = self.build_message(
            group,
            service_user,
            text,
            extra={
                "sender_chat": channel.to_api(),
                "is_automatic_forward": True,
                "forward_origin": {
                    "type": "channel",
                    "chat": channel.to_api(),
                    "message_id": channel_message_id,
                    "date": now,
                },
            },
        )
        return await self._send_user_message(message, token)

    async def press_button(
        self,
        user: User,
        chat: Chat,
        message: Message,
        callback_data: str,
        *,
        check_keyboard: bool = True,
        token: str | None = None,
    ) -> str:
        """`user` presses the inline button with `callback_data` under the bot's `message` in `chat`.

        Return the callback query id. The update carries the message as it is at delivery time.
        With `check_keyboard`, fail unless the message shows such a button (as Telegram would).
        """
        if message.get("chat", {}).get("id") != chat.id:
            raise ValueError(f"message {message.get('message_id')} is not in chat {chat.id}")
        if check_keyboard and callback_data not in _callback_data_of(message):
            raise EmulatorError(
                f"message {message.get('message_id')} has no inline button with callback_data="
                f"{callback_data!r}; it has {_callback_data_of(message)}"
            )
        body = {
            "botToken": token or self.token,
            "from": user.to_api(),
            "message": _without_harness_fields(message),
            "data": callback_data,
            "date": int(time.time()),
        }
        result = await self._request("POST", "/sendCallback", json_body=body)
        return str(result["callback_query_id"])

    async def inject_update(self, update: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
        """Queue a raw Update for the bot exactly as given; return it as queued.

        Missing update_id, message_id and date are filled in. Injecting the returned dict again
        delivers a duplicate of the same update (same update_id), like a Telegram redelivery.
        """
        result = await self._request("POST", self._bot_path("update", token), json_body=update)
        if not isinstance(result, dict):
            raise EmulatorError(f"unexpected answer to an injected update: {result!r}")
        return result

    # ------------------------------------------------------------------ what the bot did

    async def bot_messages(self, chat_id: int, *, token: str | None = None) -> list[Message]:
        """Return the messages the bot has sent to `chat_id` and not deleted, in their current state.

        Edits are applied in place (with edit_date). Each message also has an "x_emulator" dict:
        parse_mode, reply_markup of any kind (reply keyboards too), edit_history, raw request.
        """
        result = await self._request("GET", self._bot_path("messages", token), params={"chat_id": chat_id})
        return list(result)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        predicate: Callable[[Message], bool] | None = None,
        # A deadline of its own (not asyncio.timeout) so the failure can list what the bot did send.
        timeout: float = 5.0,
        *,
        text: str | None = None,
        contains: str | None = None,
        token: str | None = None,
    ) -> Message:
        """Poll until a bot message in `chat_id` matches; return the first (oldest) match.

        A message matches when `predicate` (if given) is true, its text equals `text` (if given)
        and includes `contains` (if given). Raise TimeoutError listing what the bot did send.
        """

        def matches(message: Message) -> bool:
            message_text = message.get("text") or message.get("caption") or ""
            if text is not None and message_text != text:
                return False
            if contains is not None and contains not in message_text:
                return False
            return predicate is None or predicate(message)

        deadline = time.monotonic() + timeout
        while True:
            messages = await self.bot_messages(chat_id, token=token)
            for message in messages:
                if matches(message):
                    return message
            if time.monotonic() >= deadline:
                seen = [(m.get("message_id"), m.get("text")) for m in messages]
                raise TimeoutError(
                    f"no matching bot message in chat {chat_id} within {timeout} s "
                    f"(text={text!r}, contains={contains!r}); the bot sent: {seen}"
                )
            await asyncio.sleep(0.05)

    async def calls(self, method: str | None = None, *, token: str | None = None) -> list[dict[str, Any]]:
        """Return the Bot API calls the bot made, oldest first: {seq, time (ms), method, params, ...}.

        Unsupported methods have "unsupported": true. Updates dropped because of the bot's
        allowed_updates appear with method "x_dropped_update".
        """
        params = {"method": method} if method else None
        result = await self._request("GET", self._bot_path("calls", token), params=params)
        return list(result)

    async def unsupported_calls(self, *, token: str | None = None) -> list[dict[str, Any]]:
        """Return the calls of Bot API methods the emulator does not implement (answered 501)."""
        return [call for call in await self.calls(token=token) if call.get("unsupported")]

    # ------------------------------------------------------------------ setup

    async def set_bot_profile(self, *, token: str | None = None, **fields: Any) -> dict[str, Any]:
        """Override getMe fields for the bot (e.g. username="mcu_bot"); return the new getMe result."""
        result = await self._request("POST", self._bot_path("profile", token), json_body=fields)
        return dict(result)

    async def register_chat(self, chat: Chat) -> None:
        """Tell the emulator about a chat the bot writes to before any user wrote there (for chat.type)."""
        await self._request("POST", "/harness/chats", json_body=chat.to_api())

    async def reset(self) -> None:
        """Forget all messages, updates, calls, chats and profiles (to reuse one emulator across tests)."""
        await self._request("POST", "/harness/reset")
