"""The error tree of botarmy-nb: every error a user can cause or meet is a BotArmyError.

BotArmyError
├── ConfigError          bad settings, options or names (fix the input and retry)
│   ├── SpecError        a team/agent YAML that does not parse or validate (file, line, field)
│   ├── NotFoundError    an unknown team, agent or run (the message lists what exists)
│   └── ModelSpecError   a model spec that does not parse or names an unknown provider
├── StoreError           the run store failed
│   ├── DatabaseUnavailableError   the database URL cannot be reached (password hidden)
│   ├── SchemaMismatchError        the database schema is older/newer than this package
│   └── OwnershipLostError         this process no longer owns the run it was writing
└── RunError             a run could not start, failed or timed out
    ├── RunBusyError     the run has a live owner elsewhere (resume/continue refused)
    └── RunTimeoutError  Run.wait(timeout) ran out
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BotArmyError",
    "ConfigError",
    "DatabaseUnavailableError",
    "ModelSpecError",
    "NotFoundError",
    "OwnershipLostError",
    "ProviderError",
    "RunBusyError",
    "RunError",
    "RunTimeoutError",
    "SchemaMismatchError",
    "SpecError",
    "StoreError",
    "did_you_mean",
]


class BotArmyError(Exception):
    """Root of all botarmy-nb errors; the message is meant for the user as it is."""


class ConfigError(BotArmyError):
    """Settings, options or names that cannot be used; correct them and retry."""


class SpecError(ConfigError):
    """A YAML spec is malformed or invalid; ``file``, ``line`` and ``field`` say where."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = file or "<spec>"
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")


class NotFoundError(ConfigError):
    """A named team, agent or run does not exist; the message names the known ones."""


class ModelSpecError(ConfigError):
    """A model spec (``provider:model[@base_url]``) does not parse or names no known provider."""


class StoreError(BotArmyError):
    """The run store could not read or write."""


class DatabaseUnavailableError(StoreError):
    """The database cannot be reached; the URL in the message has its password hidden."""


class SchemaMismatchError(StoreError):
    """The database schema is not the one this version expects (run ``botarmy-nb db upgrade``)."""


class OwnershipLostError(StoreError):
    """The run was marked lost or taken over by another process; this one must stop writing."""


class RunError(BotArmyError):
    """A run could not start or ended in failure."""


class RunBusyError(RunError):
    """The run is executing in a live process; wait for it or cancel it first."""


class RunTimeoutError(RunError, TimeoutError):
    """``Run.wait(timeout)`` returned before the run ended; the run goes on."""


class ProviderError(RunError):
    """Every model of an agent's chain failed (after retries); the message lists why."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint plus the known names, for NotFound-style messages."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listing = ", ".join(known) if known else "none"
    return f"{hint}; known: {listing}"
