"""Settings of the Telegram adapter (env prefix TELEGRAM_)."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

OFFICIAL_API = "https://api.telegram.org"


class TelegramSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TELEGRAM_", env_file=".env", env_ignore_empty=True, extra="ignore")

    bot_token: SecretStr | None = None
    api_base: str = OFFICIAL_API
    bot_username: str | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @property
    def token(self) -> str | None:
        value = self.bot_token.get_secret_value().strip() if self.bot_token else ""
        return value or None

    @property
    def secret(self) -> str | None:
        """The webhook secret; an empty value in .env means none was set."""
        value = self.webhook_secret.get_secret_value().strip() if self.webhook_secret else ""
        return value or None
