"""The one settings object (``BOTARMY_*`` environment variables); nothing else reads os.environ."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "provider_key", "reset_settings"]


class Settings(BaseSettings):
    """botarmy-nb configuration, read from ``BOTARMY_*`` variables (see DESIGN §3)."""

    model_config = SettingsConfigDict(env_prefix="BOTARMY_", extra="ignore")

    home: Path = Field(default=Path("~/.botarmy"), description="Where embedded data lives.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<home>/botarmy.db."
    )
    redis_url: str | None = None
    bmad_path: str | None = Field(default=None, description="Extra bmad-core folders (os.pathsep).")
    default_model: str = "scripted"
    log_level: str = "WARNING"
    log_json: bool = False
    require_services: bool = False

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'botarmy.db'}"

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once; call :func:`reset_settings` after changing env."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and notebooks that change BOTARMY_* at run time)."""
    get_settings.cache_clear()


def provider_key(variable: str) -> str | None:
    """A provider's API key from its own environment variable (never stored anywhere)."""
    value = os.environ.get(variable)
    return value or None
