"""Alembic migrations: head equals the ORM, schema mismatches and bad URLs give clear errors."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from botarmy_nb.errors import DatabaseUnavailableError, SchemaMismatchError
from botarmy_nb.store.database import create_store_engine
from botarmy_nb.store.migrate import check_schema, current_revision, head_revision, upgrade
from botarmy_nb.store.schema import Base
from botarmy_nb.store.sql import open_store


def test_upgrade_head_matches_the_orm(database_url: str) -> None:
    engine = create_store_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_first_use_creates_the_schema(database_url: str) -> None:
    store = open_store(database_url)
    assert current_revision(store.engine) == head_revision(store.engine)
    assert {"runs", "events", "model_calls", "checkpoints"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_newer_schema_is_refused(database_url: str) -> None:
    engine = create_store_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    with pytest.raises(SchemaMismatchError, match="newer than this botarmy-nb"):
        check_schema(engine, auto_upgrade=True)
    engine.dispose()


NEXT_REVISION = """
from alembic import op
import sqlalchemy as sa

revision = "9999_test"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("note")
"""


@pytest.fixture
def newer_release(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A copy of the migrations with one more revision: this 'release' is ahead of the DB."""
    import shutil

    from botarmy_nb.store import migrate

    folder = tmp_path / "migrations"
    shutil.copytree(migrate.migrations_dir(), folder)
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(folder)).get_current_head()
    (folder / "versions" / "9999_test.py").write_text(NEXT_REVISION.format(head=head))
    monkeypatch.setattr(migrate, "migrations_dir", lambda: folder)
    return folder


def test_older_schema_needs_explicit_upgrade(database_url: str, newer_release) -> None:  # type: ignore[no-untyped-def]
    engine = create_store_engine(database_url)
    upgrade(engine, "0001")  # what an earlier release left behind
    with pytest.raises(SchemaMismatchError, match=r"older than this botarmy-nb.*db upgrade"):
        check_schema(engine, auto_upgrade=False)
    assert current_revision(engine) == "0001"  # nothing was changed
    check_schema(engine, auto_upgrade=True)  # the embedded default upgrades itself
    assert current_revision(engine) == "9999_test"
    assert "note" in {c["name"] for c in inspect(engine).get_columns("projects")}
    engine.dispose()


def test_foreign_tables_without_version_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'other.db'}"
    raw = create_engine(url)
    with raw.begin() as conn:
        conn.execute(text("CREATE TABLE runs (id INTEGER)"))
    raw.dispose()
    engine = create_store_engine(url)
    with pytest.raises(SchemaMismatchError, match="no schema version"):
        check_schema(engine, auto_upgrade=True)
    engine.dispose()


def test_unreachable_database_names_url_without_password() -> None:
    url = "postgresql://someone:hunter2@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseUnavailableError) as info:
        open_store(url)
    message = str(info.value)
    assert "127.0.0.1:1/nowhere" in message and "hunter2" not in message and "***" in message
