"""The one settings object (``BOTARMY_*`` environment variables); nothing else reads os.environ."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings", "provider_key", "reset_settings", "secret_values"]


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
    model_timeout_s: float = Field(default=120.0, gt=0, description="Per model call.")
    model_retries: int = Field(default=3, ge=0, description="Retries per provider.")
    retry_base_s: float = Field(default=0.5, ge=0, description="First backoff delay.")
    retry_max_s: float = Field(default=20.0, ge=0, description="Longest backoff delay.")
    prices: Path | None = Field(default=None, description="Extra model price table (YAML).")
    env_file: Path | None = Field(default=None, description="A .env file with provider keys.")
    executor: str = Field(default="local", description="Where runs execute: local | celery.")
    lease_s: float = Field(
        default=10.0, gt=0, description="A run whose owner is silent this long is lost."
    )
    heartbeat_s: float = Field(default=1.0, gt=0, description="How often owners renew leases.")
    store_retry_s: float = Field(
        default=30.0, ge=0, description="How long a run retries a failing store write."
    )
    max_attempts: int = Field(default=3, ge=1, description="Executions of a run before it fails.")
    # -- scale-out: Celery workers over Redis (BOTARMY_REDIS_URL) --------------------------
    queue: str = Field(default="botarmy", description="The queue runs go to unless they name one.")
    worker_concurrency: int = Field(
        default=8, ge=1, description="Runs one worker executes at once (threads)."
    )
    visibility_timeout_s: float = Field(
        default=86_400.0,
        gt=0,
        description="Broker redelivery of an unacknowledged task; longer than the longest run "
        "(recovery comes from the lease, not from the broker).",
    )
    recovery_interval_s: float = Field(
        default=5.0, gt=0, description="How often each worker looks for runs to recover."
    )
    cancel_grace_s: float = Field(
        default=10.0, ge=0, description="From a graceful stop (timeout) to the hard stop."
    )
    stream_maxlen: int = Field(
        default=10_000, ge=100, description="Live events kept per run stream in Redis (approx.)."
    )
    stream_ttl_s: float = Field(
        default=3_600.0, gt=0, description="How long a run's Redis stream outlives its end."
    )
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
    """A provider's API key: its own environment variable, else the BOTARMY_ENV_FILE .env.

    Keys are read when a client is built and never stored: not in the database, the logs,
    cassettes or notebook outputs. AutoGen's masked ``**********`` is not a key.
    """
    value = os.environ.get(variable)
    if not value:
        env_file = get_settings().env_file
        if env_file is not None and env_file.expanduser().is_file():
            from dotenv import dotenv_values

            value = dotenv_values(env_file.expanduser()).get(variable)
    if not value or set(value) == {"*"}:
        return None
    return value


# the built-in providers' keys; registered providers add theirs (see secret_values)
KEY_VARIABLES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_COMPATIBLE_API_KEY",
)
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD", re.I)
_SHORTEST_SECRET = 4  # shorter values would blank out ordinary words, and guard nothing


@functools.cache
def _env_file_values(path: Path, mtime: float) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v}


def _url_password(url: str | None) -> str | None:
    try:
        return urlsplit(url).password if url else None
    except ValueError:  # an unparseable URL has no password we could find
        return None


def secret_values(variables: Iterable[str] = ()) -> list[str]:
    """The value of every configured secret, longest first, so that text can be redacted.

    Secrets: the provider keys (``KEY_VARIABLES`` and ``variables``) from the environment
    or the BOTARMY_ENV_FILE, every key/token/secret/password entry of that file, and the
    passwords in the database and Redis URLs. Read afresh on each call (notebooks set
    keys at run time); the .env file is re-read only when it changes.
    """
    names = dict.fromkeys([*KEY_VARIABLES, *variables])
    found = {os.environ.get(name) for name in names}
    settings = get_settings()
    env_file = settings.env_file.expanduser() if settings.env_file else None
    if env_file is not None and env_file.is_file():
        values = _env_file_values(env_file, env_file.stat().st_mtime)
        found.update(v for k, v in values.items() if k in names or _SECRET_NAME.search(k))
    found.add(_url_password(settings.database_url))
    found.add(_url_password(settings.redis_url))
    secrets = {v for v in found if v and len(v) >= _SHORTEST_SECRET and set(v) != {"*"}}
    return sorted(secrets, key=len, reverse=True)
