"""Fixtures that run the real `mcu run` process against the Telegram Bot API emulator."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import pytest_asyncio

from tests.e2e.emulator.harness import BotApiEmulator

logger = logging.getLogger(__name__)

BOT_USERNAME: Final = "mcu_test_bot"
STARTUP_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 10.0
CLI_TIMEOUT_S: Final = 60.0
LOG_TAIL_LINES: Final = 200
# Settings the process must not inherit from the developer's shell: the test decides every one of them.
_OWN_PREFIXES: Final = ("TELEGRAM_", "VK_", "ADMIN_", "SCHEDULER_", "DATABASE_URL")


def _mcu_executable() -> Path:
    # The console script of the venv that runs pytest, so the test exercises the installed entry point.
    path = Path(sys.executable).parent / "mcu"
    if not path.is_file():
        raise RuntimeError(f"the `mcu` command is not installed next to {sys.executable}; run `make install`")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


CLASSIFIER_CACHE = Path(tempfile.gettempdir()) / "mcu-e2e-classifier-cache"


class McuFailed(AssertionError):
    """The product process or one of its commands did not behave."""


@dataclass
class McuProcess:
    """One `mcu run` process in its own working folder, with its database, settings and log."""

    workdir: Path
    env: dict[str, str]
    admin_url: str
    log_path: Path
    executable: Path = field(default_factory=_mcu_executable)
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, workdir: Path, emulator: BotApiEmulator, extra_env: Mapping[str, str] | None = None) -> McuProcess:
        """Settings for the emulator; `extra_env` adds or overrides some (VK_*, say)."""
        port = _free_port()
        env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
        env.update(
            DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'mcu.db'}",
            TELEGRAM_BOT_TOKEN=emulator.token,
            TELEGRAM_API_BASE=emulator.api_base,
            TELEGRAM_BOT_USERNAME=BOT_USERNAME,
            ADMIN_HOST="127.0.0.1",
            ADMIN_PORT=str(port),
            PYTHONUNBUFFERED="1",
            # One trained classifier for every process of the run, as one server keeps it across restarts.
            MCU_CACHE_DIR=str(CLASSIFIER_CACHE),
        )
        env.update(extra_env or {})
        return cls(workdir=workdir, env=env, admin_url=f"http://127.0.0.1:{port}", log_path=workdir / "mcu-run.log")

    def start(self, *args: str) -> None:
        """`mcu run ARGS` (`--only scheduler,admin`, say), its output appended to the log."""
        with self.log_path.open("ab") as log_file:
            # cwd is the temp folder: pydantic-settings reads `.env` from cwd, and the repo's must not leak in.
            self.process = subprocess.Popen(
                [str(self.executable), "run", *args],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        logger.info("mcu run (pid %s) started in %s", self.process.pid, self.workdir)

    async def wait_healthy(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.admin_url, trust_env=False, timeout=2.0) as client:
            while True:
                if self.process is None or self.process.poll() is not None:
                    code = None if self.process is None else self.process.returncode
                    raise McuFailed(f"`mcu run` exited with code {code} before it was healthy:\n{self.log_tail()}")
                try:
                    response = await client.get("/healthz")
                    if response.status_code == 200 and response.json() == {"status": "ok"}:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise McuFailed(f"`mcu run` did not answer /healthz within {timeout} s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    def stop(self) -> int | None:
        """SIGTERM, then kill if it does not stop; return the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                logger.warning("mcu run (pid %s) ignored SIGTERM for %s s; killing it", process.pid, STOP_TIMEOUT_S)
                process.kill()
                process.wait(STOP_TIMEOUT_S)
        return process.returncode

    def kill(self) -> int | None:
        """SIGKILL, as `kill -9` or a crash: nothing is finished or closed; return the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        process.kill()
        process.wait(STOP_TIMEOUT_S)
        logger.info("mcu run (pid %s) killed", process.pid)
        return process.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def wait_for_log(self, fragment: str, *, after: int = 0, timeout: float = 10.0) -> str:
        """Wait until the log, from character `after` on, has a line containing `fragment`; return that line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text()[after:].splitlines():
                if fragment in line:
                    return line
            if time.monotonic() > deadline:
                raise McuFailed(f"`mcu run` did not log {fragment!r} within {timeout} s")
            await asyncio.sleep(0.05)

    async def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run `mcu ARGS` with the same settings as the server; return its stdout, fail on a non-zero exit."""
        command = [str(self.executable), *args]
        result = await asyncio.to_thread(
            subprocess.run,
            command,
            cwd=self.workdir,
            env=self.env,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise McuFailed(f"`mcu {' '.join(args)}` exited with {result.returncode}:\n{result.stderr[-4000:]}")
        return result.stdout


class AdminApi:
    """The admin JSON API of the running process, as a logged-in admin user."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token

    @classmethod
    async def log_in(cls, base_url: str, login: str, password: str) -> AdminApi:
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=10.0) as client:
            response = await client.post("/api/auth/login", json={"login": login, "password": password})
        response.raise_for_status()
        return cls(base_url, str(response.json()["token"]))

    async def get(self, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.base_url, trust_env=False, timeout=10.0) as client:
            response = await client.get(path, params=params, headers=headers)
        response.raise_for_status()
        return response.json()

    async def incidents(self, **params: Any) -> dict[str, Any]:
        page: dict[str, Any] = await self.get("/api/incidents", limit=500, **params)
        return page

    async def incident(self, number: int) -> dict[str, Any]:
        detail: dict[str, Any] = await self.get(f"/api/incidents/{number}")
        return detail


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bot_api() -> AsyncIterator[BotApiEmulator]:
    """The Bot API emulator, shared by the tests of a module (each test uses its own people and chats)."""
    async with BotApiEmulator() as emulator:
        await emulator.set_bot_profile(username=BOT_USERNAME, first_name="МЦУ")
        yield emulator


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mcu(bot_api: BotApiEmulator, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McuProcess]:
    """The real product process `mcu run`, polling the emulator; stopped (and its log kept) at the end."""
    process = McuProcess.create(tmp_path_factory.mktemp("mcu"), bot_api)
    process.start()
    try:
        await process.wait_healthy()
        yield process
    finally:
        code = await asyncio.to_thread(process.stop)
        logger.info("mcu run stopped with code %s; log: %s", code, process.log_path)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach the tail of the product's log to every failed test that ran it."""
    report = yield
    if report.failed and isinstance(item, pytest.Function):
        process = item.funcargs.get("mcu")
        if isinstance(process, McuProcess):
            report.sections.append(("mcu run log (tail)", process.log_tail()))
    return report
