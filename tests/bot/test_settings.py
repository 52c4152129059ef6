"""Every settings class reads the shipped .env.example as it is: a newcomer's first `make run` must start."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from admin.settings import AdminSettings
from bot.telegram.settings import TelegramSettings
from bot.vk.settings import VkSettings
from schedules.settings import SchedulerSettings
from storage.db import DEFAULT_URL, DatabaseSettings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("TELEGRAM_", "VK_", "ADMIN_", "SCHEDULER_", "DATABASE_URL")):
            monkeypatch.delenv(key)


def test_example_file_gives_working_defaults() -> None:
    assert DatabaseSettings(_env_file=EXAMPLE).database_url == DEFAULT_URL
    telegram = TelegramSettings(_env_file=EXAMPLE)
    assert telegram.token is None and telegram.bot_username is None and telegram.mode == "polling"
    vk = VkSettings(_env_file=EXAMPLE)
    assert vk.community_id is None and vk.page_id is None and vk.community is None and vk.mode == "longpoll"
    admin = AdminSettings(_env_file=EXAMPLE)
    assert (admin.host, admin.port, admin.public_url, admin.secure_cookie) == ("127.0.0.1", 8000, None, False)
    assert SchedulerSettings(_env_file=EXAMPLE).sweep_seconds == 30


def test_every_key_of_the_example_is_commented() -> None:
    # A key sits under a comment, alone or in a small group of keys described together (VK_COMMUNITY_ID/TOKEN).
    block: list[str] = []
    for line in [*EXAMPLE.read_text(encoding="utf-8").splitlines(), ""]:
        if line.strip():
            block.append(line)
            continue
        keys = [b for b in block if not b.startswith("#")]
        assert not keys or block[0].startswith("#"), f"no comment above {keys}"
        block = []
