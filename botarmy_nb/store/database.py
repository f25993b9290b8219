"""Opening databases: URL normalisation, engines with sane pragmas, clear connection errors."""

from __future__ import annotations

from pathlib import Path

from pydantic_core import to_json
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from botarmy_nb.errors import ConfigError, DatabaseUnavailableError

__all__ = ["create_store_engine", "normalize_url", "safe_url"]


def normalize_url(url: str) -> URL:
    """Parse a database URL; plain ``postgresql://`` uses psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"BOTARMY_DATABASE_URL {url!r} is not a database URL: {exc}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"BOTARMY_DATABASE_URL {safe_url(parsed)}: only sqlite and postgresql are supported"
        )
    return parsed


def safe_url(url: URL | str) -> str:
    """The URL as text with its password hidden, for messages and logs."""
    parsed = url if isinstance(url, URL) else make_url(url)
    return parsed.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    # WAL lets notebooks read while a run writes; NORMAL sync is durable enough with WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` that has been connected once, or a clear error saying why not."""
    parsed = normalize_url(url)
    # pydantic-core's JSON encoder is several times faster than json.dumps on the write path
    kwargs: dict[str, object] = {"json_serializer": lambda obj: to_json(obj).decode()}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            parsed = parsed.set(database=str(Path(parsed.database).expanduser()))
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        # no pool_pre_ping (a round trip per checkout): a dead pooled connection fails its
        # statement as a transient error, which the store retries on a fresh connection
        kwargs["connect_args"] = {"connect_timeout": 5}
    try:
        engine = create_engine(parsed, **kwargs)  # type: ignore[arg-type]
    except (ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use database {safe_url(parsed)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        engine.dispose()
        raise DatabaseUnavailableError(
            f"cannot reach database {safe_url(parsed)}: {reason}"
        ) from None
    return engine
