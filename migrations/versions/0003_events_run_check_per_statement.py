"""Events check their run once per statement instead of per row: the events → runs foreign
key becomes triggers (a run's existence, locked as a foreign key would; a run's deletion
removes its events).

The foreign key's check cost ≈ 8 µs per row on PostgreSQL's side of a COPY, more than the
rest of the write (docs/benchmarks.md, B2). On PostgreSQL one statement-level trigger looks
up the distinct runs of the inserted rows (one per batch) and locks them ``FOR KEY SHARE``
— what the foreign key did row by row — so a run cannot be deleted under a write; on SQLite
a row trigger does the same check (SQLite has no statement triggers; its foreign key cost
about as much). Refused rows fail as a foreign key would (PostgreSQL SQLSTATE 23503,
SQLite a constraint error), saying which run is missing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 12:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FK = "fk_events_run_id_runs"
REFUSED = "events of run % refused: no such run (deleted, or never created)"

PG_UPGRADE = [
    f"ALTER TABLE events DROP CONSTRAINT {FK}",
    f"""
    CREATE FUNCTION botarmy_events_need_runs() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        first_run text;
        run record;
    BEGIN
        SELECT run_id INTO first_run FROM new_events LIMIT 1;
        IF first_run IS NULL THEN
            RETURN NULL;
        END IF;
        -- a batch is one run's: one lookup (a count of the distinct runs cost ≈ 0.5 µs a row)
        IF NOT EXISTS (SELECT 1 FROM new_events WHERE run_id <> first_run) THEN
            PERFORM 1 FROM runs WHERE id = first_run FOR KEY SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION '{REFUSED}', first_run
                    USING ERRCODE = 'foreign_key_violation', TABLE = 'events';
            END IF;
            RETURN NULL;
        END IF;
        FOR run IN SELECT DISTINCT run_id FROM new_events LOOP
            PERFORM 1 FROM runs WHERE id = run.run_id FOR KEY SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION '{REFUSED}', run.run_id
                    USING ERRCODE = 'foreign_key_violation', TABLE = 'events';
            END IF;
        END LOOP;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER events_need_runs_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION botarmy_events_need_runs()
    """,
    """
    CREATE TRIGGER events_need_runs_update AFTER UPDATE ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION botarmy_events_need_runs()
    """,
    """
    CREATE FUNCTION botarmy_runs_drop_events() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM events WHERE run_id IN (SELECT id FROM old_runs);
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER runs_drop_events AFTER DELETE ON runs
    REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION botarmy_runs_drop_events()
    """,
]

PG_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS runs_drop_events ON runs",
    "DROP FUNCTION IF EXISTS botarmy_runs_drop_events()",
    "DROP TRIGGER IF EXISTS events_need_runs_update ON events",
    "DROP TRIGGER IF EXISTS events_need_runs_insert ON events",
    "DROP FUNCTION IF EXISTS botarmy_events_need_runs()",
    f"ALTER TABLE events ADD CONSTRAINT {FK} FOREIGN KEY (run_id) REFERENCES runs (id) "
    "ON DELETE CASCADE",
]

# SQLite's RAISE takes a fixed message: the run id is in the statement that failed
SQLITE_REFUSED = "events refused: their run is not in the store (deleted, or never created)"
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER events_need_runs_insert BEFORE INSERT ON events
    WHEN NOT EXISTS (SELECT 1 FROM runs WHERE id = NEW.run_id)
    BEGIN SELECT RAISE(ABORT, '{SQLITE_REFUSED}'); END
    """,
    f"""
    CREATE TRIGGER events_need_runs_update BEFORE UPDATE OF run_id ON events
    WHEN NOT EXISTS (SELECT 1 FROM runs WHERE id = NEW.run_id)
    BEGIN SELECT RAISE(ABORT, '{SQLITE_REFUSED}'); END
    """,
    """
    CREATE TRIGGER runs_drop_events AFTER DELETE ON runs
    BEGIN DELETE FROM events WHERE run_id = OLD.id; END
    """,
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_UPGRADE:
            op.execute(statement)
        return
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DOWNGRADE:
            op.execute(statement)
        return
    for name in ("runs_drop_events", "events_need_runs_update", "events_need_runs_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("events") as batch:
        batch.create_foreign_key(FK, "runs", ["run_id"], ["id"], ondelete="CASCADE")
