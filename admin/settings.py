"""Settings of the admin web server (env prefix ADMIN_)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ADMIN_", env_file=".env", env_ignore_empty=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    # The address people use to open the admin; cards link to incidents there.
    public_url: str | None = None
    # Send the session cookie only over HTTPS; turn off only for a local run on http://.
    secure_cookie: bool = False
