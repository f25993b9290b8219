"""Schema management: find the shipped Alembic scripts, create, upgrade and check databases."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from sqlalchemy import Engine, inspect

from botarmy_nb.errors import SchemaMismatchError

__all__ = ["check_schema", "current_revision", "head_revision", "migrations_dir", "upgrade"]

_PACKAGE = Path(__file__).resolve().parent.parent


def migrations_dir() -> Path:
    """The Alembic script folder: inside the wheel, or at the repository root when editable."""
    for candidate in (_PACKAGE / "_migrations", _PACKAGE.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise SchemaMismatchError("botarmy-nb is installed without its migrations folder")


def _config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision(engine: Engine) -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config(engine)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (``botarmy-nb db upgrade``)."""
    from alembic import command

    cfg = _config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def _known_revisions(engine: Engine) -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_config(engine)).walk_revisions()}


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*[\"']([^\"']+)[\"']", re.M)


@functools.cache
def _shipped_head(folder: Path) -> str | None:
    """The head revision of the shipped scripts, read as text (importing alembic to ask
    costs ~1 s in a fresh process); None if that is not one clear head."""
    revisions, parents = set(), set()
    for script in (folder / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            return None
        revisions.add(found.group(1))
        parents.update(m.group(1) for m in _DOWN.finditer(text))
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def _stored_revision(engine: Engine) -> str | None:
    """``alembic_version`` read with plain SQL; None when it cannot be read that way."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def check_schema(engine: Engine, *, auto_upgrade: bool) -> None:
    """Create an empty database, upgrade an old one if allowed, refuse a foreign or newer one."""
    stored = _stored_revision(engine)
    if stored is not None and stored == _shipped_head(migrations_dir()):
        return  # the common case, answered without importing alembic
    url = engine.url.render_as_string(hide_password=True)
    current = current_revision(engine)
    head = head_revision(engine)
    if current == head:
        return
    if current is None:
        tables = set(inspect(engine).get_table_names())
        if tables & {"runs", "events"}:
            raise SchemaMismatchError(
                f"database {url} has botarmy-like tables but no schema version; "
                "point BOTARMY_DATABASE_URL at an empty database or a botarmy-nb one"
            )
        upgrade(engine)
        return
    if current not in _known_revisions(engine):
        raise SchemaMismatchError(
            f"database {url} is at schema revision {current}, newer than this botarmy-nb "
            f"(which knows up to {head}): upgrade botarmy-nb to use it"
        )
    if not auto_upgrade:
        raise SchemaMismatchError(
            f"database {url} is at schema revision {current}, older than this botarmy-nb "
            f"needs ({head}): run `botarmy-nb db upgrade`"
        )
    upgrade(engine)
