"""The `mcu run` process on its own: it starts without a Telegram token, and it stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx

from tests.e2e.conftest import McuProcess
from tests.e2e.emulator.harness import BotApiEmulator

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


async def test_starts_without_a_token_and_says_why(tmp_path: Path, bot_api: BotApiEmulator) -> None:
    # The newcomer's path: `make run` copies .env.example to .env, with every secret still empty.
    shutil.copy(EXAMPLE, tmp_path / ".env")
    process = McuProcess.create(tmp_path, bot_api)
    for key in [k for k in process.env if k.startswith(("TELEGRAM_", "VK_", "DATABASE_URL"))]:
        del process.env[key]
    process.start()
    try:
        await process.wait_healthy()
        async with httpx.AsyncClient(base_url=process.admin_url, trust_env=False) as client:
            assert (await client.get("/api/incidents")).status_code == 401
    finally:
        code = await asyncio.to_thread(process.stop)
    log = process.log_text()
    assert code == 0
    assert "Telegram: выключен — не задан TELEGRAM_BOT_TOKEN" in log
    assert "VK: выключен — не заданы VK_COMMUNITY_TOKEN и VK_USER_TOKEN" in log
    assert (tmp_path / "data" / "mcu.db").exists()
    assert "Traceback" not in log


async def test_stops_cleanly_while_polling(tmp_path: Path, bot_api: BotApiEmulator) -> None:
    process = McuProcess.create(tmp_path, bot_api)
    process.start()
    try:
        await process.wait_healthy()
        await process.wait_for_log("long polling")
        await asyncio.sleep(1.5)  # a few getUpdates round trips
    finally:
        code = await asyncio.to_thread(process.stop)
    log = process.log_text()
    assert code == 0
    assert "остановлено" in log
    assert " ERROR " not in log and "Traceback" not in log, log
