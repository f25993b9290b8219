"""structlog configuration: key-value logs to stderr, JSON with BOTARMY_LOG_JSON=1."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from botarmy_nb.settings import get_settings, secret_values

__all__ = ["configure_logging", "get_logger", "redact"]

_configured = False
_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|(?<=//)[^:/@\s]+:[^@\s]+(?=@))")
_QUERY_SECRET = re.compile(
    r"([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|pwd|sig|signature)=)"
    r"[^&#\s]+",
    re.I,
)


def _key_variables() -> list[str]:
    """The key variables of the providers registered so far (third parties' too)."""
    from botarmy_nb.models.registry import key_variables

    return key_variables()


def redact(text: str) -> str:
    """Hide every configured secret's value, key-looking tokens and URL credentials.

    >>> redact("postgresql://me:hunter2@db/x?token=abc")
    'postgresql://***@db/x?token=***'
    """
    for secret in secret_values(_key_variables()):
        if secret in text:
            text = text.replace(secret, "***")
    return _QUERY_SECRET.sub(r"\1***", _SECRET.sub("***", text))


def _redact_processor(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = redact(value)
    return event_dict


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time (kernels and tests replace it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(force: bool = False) -> None:
    """Configure structlog once per process from the settings."""
    global _configured
    if _configured and not force:
        return
    settings = get_settings()
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.WARNING
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # tracebacks become plain text here, so the redactor sees them (and no
            # renderer prints local variables, where a key could sit)
            structlog.processors.format_exc_info,
            _redact_processor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    # AutoGen logs agent errors with tracebacks through stdlib logging; without a handler
    # Python prints them to stderr, i.e. into whatever notebook cell is running. The run's
    # own error event says what failed; users who configure logging still get these.
    for name in ("autogen_core", "autogen_agentchat", "autogen_ext"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
    _configured = True


def get_logger(name: str) -> Any:
    """A structlog logger bound to a component name."""
    configure_logging()
    return structlog.get_logger(component=name)
