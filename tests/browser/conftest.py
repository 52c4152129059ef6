"""Browser tests: the real `mcu run --only admin` process, a seeded database, and Debian's headless Chromium
driven by Playwright. Screenshots of the main pages are kept in tests/artifacts/screenshots (not in git)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Coroutine, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from tests.e2e.conftest import _OWN_PREFIXES, CLASSIFIER_CACHE, CLI_TIMEOUT_S, McuProcess, _free_port

REPO: Final = Path(__file__).resolve().parents[2]
SCREENSHOTS: Final = REPO / "tests" / "artifacts" / "screenshots"
# Debian's package (`make chromium` installs it); Playwright's own browser downloads are not used.
CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    # Without these Chromium keeps calling Google's hosts (updates, sync, field trials) in the background.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
DESKTOP: Final = ViewportSize(width=1280, height=800)
PHONE: Final = ViewportSize(width=390, height=844)
TIMEOUT_MS: Final = 10_000

PASSWORD: Final = "browser test password"
ADMIN: Final = "admin"  # made by `mcu users create admin --role admin`, as the README says
OFFICER: Final = "surkova"  # made by the seed, linked to the officer of the directory: may act on incidents
T = TypeVar("T")


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine of the process helper from a plain test: in its own thread, as Playwright's sync API
    keeps an event loop in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def admin_process(workdir: Path) -> McuProcess:
    """`mcu` with its own database and port and nothing of Telegram or VK: only the admin server is run."""
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OWN_PREFIXES)}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'mcu.db'}",
        ADMIN_HOST="127.0.0.1",
        ADMIN_PORT=str(port),
        PYTHONUNBUFFERED="1",
        MCU_CACHE_DIR=str(CLASSIFIER_CACHE),
    )
    return McuProcess(workdir=workdir, env=env, admin_url=f"http://127.0.0.1:{port}", log_path=workdir / "mcu-run.log")


def seed(process: McuProcess) -> None:
    """The admin login by the README's command, then citizens' messages and the officer's login by the intake."""
    run_async(process.cli("users", "create", ADMIN, "--role", "admin", stdin=PASSWORD + "\n"))
    env = {**process.env, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tests.browser.seed", process.env["DATABASE_URL"], OFFICER, PASSWORD]
    result = subprocess.run(
        command, cwd=process.workdir, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False
    )
    assert result.returncode == 0, f"seeding failed:\n{result.stdout}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from Debian's package; the tests skip, saying why, only when it is not installed."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"нет {CHROMIUM}: браузерные тесты пропущены. Chromium ставят `make test` и `make chromium` "
            "(apt-get install chromium от root или через sudo без пароля)."
        )
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()  # the folder shows this run's pages only
    # The Russian interface (chromium-l10n), as the district's staff have it: date fields read дд.мм.гггг.
    env: dict[str, str | float | bool] = {**os.environ, "LANG": "ru_RU.UTF-8", "LANGUAGE": "ru"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS), env=env)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def mcu_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McuProcess]:
    """The real `mcu run --only admin` on its own port, with a seeded database; stopped at the end."""
    process = admin_process(tmp_path_factory.mktemp("mcu-browser"))
    seed(process)
    process.start("--only", "admin")
    try:
        run_async(process.wait_healthy())
        yield process
    finally:
        process.stop()


@pytest.fixture
def page(browser: Browser, mcu_admin: McuProcess, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile (no cookies) at desktop size; uncaught script errors fail the test."""
    context = browser.new_context(
        base_url=mcu_admin.admin_url, viewport=DESKTOP, locale="ru-RU", timezone_id="Europe/Moscow"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            shoot(page, f"failed-{request.node.name}")
        assert not errors, f"ошибки скриптов на странице: {errors}"
    finally:
        context.close()


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot kept as a test artefact: tests/artifacts/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Page, login: str, password: str = PASSWORD, *, path: str = "/login") -> None:
    """Open `path` (the login form, or a page that leads to it) and log in with the form."""
    page.goto(path)
    page.get_by_label("Логин").fill(login)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Keep the call's report for the page fixture (a screenshot of a failure); attach the server's log."""
    report = yield
    if report.when == "call":
        item.report_call = report  # type: ignore[attr-defined]
    if report.failed and isinstance(item, pytest.Function):
        process = item.funcargs.get("mcu_admin")
        if isinstance(process, McuProcess):
            report.sections.append(("mcu run log (tail)", process.log_tail()))
    return report
