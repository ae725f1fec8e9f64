"""Settings, read from HERALD_* environment variables (and a .env file)."""

from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HERALD_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/herald.db"
    smtp_url: str = "file://./var/outbox"
    from_email: str = "noreply@localhost"
    time_zone: str = "UTC"
    scheduler_interval: float = 30.0

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def today(self) -> date:
        """The day `send_at` is compared with: today in HERALD_TIME_ZONE."""
        return datetime.now(self.zone).date()
