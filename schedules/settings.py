"""Settings of the scheduler (env prefix SCHEDULER_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SchedulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", env_file=".env", env_ignore_empty=True, extra="ignore")

    # How often the due reminders, escalations and the morning digest are looked for.
    sweep_seconds: float = Field(default=30, gt=0)
