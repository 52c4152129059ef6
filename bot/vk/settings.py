"""Settings of the VK adapter (env prefix VK_)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFICIAL_API = "https://api.vk.ru"


def _secret(value: SecretStr | None) -> str | None:
    text = value.get_secret_value().strip() if value else ""
    return text or None


class VkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VK_", env_file=".env", env_ignore_empty=True, extra="ignore")

    api_base: str = OFFICIAL_API
    community_id: int | None = None
    community_token: SecretStr | None = None
    mode: Literal["longpoll", "callback"] = "longpoll"
    callback_confirmation: str | None = None
    callback_secret: SecretStr | None = None
    user_token: SecretStr | None = None
    page_id: int | None = None
    poll_seconds: float = 120
    poll_posts: int = 10
    longpoll_wait: int = 25

    @property
    def community(self) -> str | None:
        return _secret(self.community_token)

    @property
    def user(self) -> str | None:
        return _secret(self.user_token)

    @property
    def secret(self) -> str | None:
        return _secret(self.callback_secret)
