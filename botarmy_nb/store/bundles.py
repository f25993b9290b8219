"""Run bundles: one run's rows written to a single zip file and read back into any store.

A bundle holds the run (its request snapshot), events, model calls, artifacts (rows and
readable files), human-in-the-loop requests, checkpoints and, when there is one, the
run's cassette. Ids are kept, so a re-import adds nothing twice; an import is one
transaction (all or nothing); a bundle that is corrupt, foreign or newer than this
package is refused with what is wrong before anything is written. Every text is passed
through :func:`botarmy_nb.log.redact`, so configured secrets never leave in a bundle.

Layout (``manifest.json`` lists every other member with its SHA-256 and row count)::

    manifest.json  run.json  events.jsonl  model_calls.jsonl  artifacts.jsonl
    hitl.jsonl  checkpoints.jsonl  [cassette.json]  files/<artifact name>…
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select

from botarmy_nb.errors import ConfigError
from botarmy_nb.events import TERMINAL_STATUSES, parse_event, utcnow
from botarmy_nb.store.records import ArtifactRecord, CheckpointRecord, RunRecord
from botarmy_nb.store.rows import aware
from botarmy_nb.store.schema import (
    ArtifactRow,
    CheckpointRow,
    EventRow,
    HitlRequestRow,
    ModelCallRow,
    RunRow,
)

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "Bundle",
    "BundleError",
    "ImportResult",
    "export_run",
    "import_bundle",
    "read_bundle",
    "read_run",
    "write_bundle",
]

BUNDLE_FORMAT = "botarmy-nb/run-bundle"
BUNDLE_VERSION = 1
MAX_MEMBER_BYTES = 1 << 30  # refuse zip bombs: no member unpacks past 1 GiB
TABLES = ("events", "model_calls", "artifacts", "hitl", "checkpoints")


class BundleError(ConfigError):
    """A bundle that cannot be imported (not a zip, foreign, corrupt, newer, or holding
    rows of another run); the message says what is wrong. Nothing was written."""


class _EventRowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    seq: int
    type: str
    kind: str | None
    agent: str | None
    content: str | None
    payload: dict[str, Any]
    created_at: datetime


class _ModelCallRowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str
    seq: int
    agent: str | None
    provider: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    ttft_s: float | None
    cost_usd: float | None
    status: str
    error: str | None
    cached: bool
    created_at: datetime


class _HitlRowModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    run_id: str
    seq: int
    agent: str | None
    prompt: str
    options: dict[str, Any]
    response: str | None
    status: str
    created_at: datetime
    answered_at: datetime | None
    expires_at: datetime | None


_MODELS: dict[str, type[BaseModel]] = {
    "events": _EventRowModel,
    "model_calls": _ModelCallRowModel,
    "artifacts": ArtifactRecord,
    "hitl": _HitlRowModel,
    "checkpoints": CheckpointRecord,
}
_TABLES: dict[str, Any] = {
    "events": EventRow,
    "model_calls": ModelCallRow,
    "artifacts": ArtifactRow,
    "hitl": HitlRequestRow,
    "checkpoints": CheckpointRow,
}
_RUN_FIELDS = [c.name for c in RunRow.__table__.columns if c.name != "project_id"]


@dataclass
class Bundle:
    """One run's rows, as plain JSON-able dicts (what a bundle file holds)."""

    run: dict[str, Any]
    rows: dict[str, list[dict[str, Any]]]
    cassette: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return str(self.run["id"])


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the run's id, whether the run was new, rows added per table
    (0 everywhere on a re-import), and where the cassette went (if the bundle had one)."""

    run_id: str
    created: bool
    added: dict[str, int]
    cassette: Path | None = None


# -- reading a run out of a store --------------------------------------------------------


def _plain(value: Any, clean: Callable[[str], str]) -> Any:
    """JSON-able and redacted: datetimes as ISO 8601 UTC, every string through ``clean``."""
    if isinstance(value, datetime):
        return aware(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): _plain(v, clean) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, clean) for v in value]
    return value


def read_run(store: Any, run_id: str) -> Bundle:
    """The rows of one finished run (the run must not be queued or running)."""
    from botarmy_nb.log import redact

    record = store.get_run(run_id)
    if record.status not in TERMINAL_STATUSES:
        raise ConfigError(
            f"run {record.short_id} is {record.status}: wait for it to end (run.wait()) "
            "before exporting it"
        )
    run_table = RunRow.__table__
    with store.reading() as conn:
        run_row = conn.execute(select(run_table).where(run_table.c.id == record.id)).one()
        rows: dict[str, list[dict[str, Any]]] = {}
        for name, orm in _TABLES.items():
            table = orm.__table__
            columns = [c for c in table.columns if not (c.name == "id" and name != "hitl")]
            query = select(*columns).where(table.c.run_id == record.id).order_by(table.c.seq)
            rows[name] = [_plain(dict(r._mapping), redact) for r in conn.execute(query)]
    run = _plain({k: run_row._mapping[k] for k in _RUN_FIELDS}, redact)
    run["tags"] = run.get("tags") or {}
    return Bundle(run=run, rows=rows, cassette=_cassette_text(record, redact))


def _cassette_text(record: RunRecord, clean: Callable[[str], str]) -> str | None:
    """The run's cassette, if the file it recorded to or replayed from is here."""
    spec = record.spec or {}
    candidates = [spec.get("record_path")]
    models = [record.model, *(spec.get("agent_models") or {}).values()]
    candidates += [m.removeprefix("replay:") for m in models if str(m).startswith("replay:")]
    for candidate in candidates:
        if candidate and Path(str(candidate)).is_file():
            return clean(Path(str(candidate)).read_text(encoding="utf-8"))
    return None


# -- the file ----------------------------------------------------------------------------


def _jsonl(rows: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows).encode()


def _readable_files(bundle: Bundle) -> dict[str, bytes]:
    """The latest version of each artifact as a file under ``files/`` (names that could
    leave a folder when unzipped are left out; their content is in artifacts.jsonl)."""
    from botarmy_nb.paths import file_name_problem

    latest = {a["name"]: a["content"] for a in bundle.rows.get("artifacts", [])}
    out = {}
    for name, content in latest.items():
        if file_name_problem(name) is None and all(
            p not in ("", ".", "..") for p in name.split("/")
        ):
            out[f"files/{name}"] = str(content).encode()
    return out


def write_bundle(bundle: Bundle, path: str | Path) -> Path:
    """Write ``bundle`` to ``path`` (a zip; written to a temporary file, then renamed)."""
    import os
    import tempfile

    from botarmy_nb import __version__

    members: dict[str, bytes] = {"run.json": json.dumps(bundle.run, sort_keys=True).encode()}
    for name in TABLES:
        members[f"{name}.jsonl"] = _jsonl(bundle.rows.get(name, []))
    if bundle.cassette is not None:
        members["cassette.json"] = bundle.cassette.encode()
    members.update(_readable_files(bundle))
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": BUNDLE_VERSION,
        "run_id": bundle.run_id,
        "exported_at": utcnow().isoformat(),
        "botarmy_nb": __version__,
        "members": {
            name: {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                **(
                    {"rows": len(bundle.rows.get(name.removesuffix(".jsonl"), []))}
                    if name.endswith(".jsonl")
                    else {}
                ),
            }
            for name, data in members.items()
        },
    }
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".bundle-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
            for name, data in members.items():
                zf.writestr(name, data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def export_run(store: Any, run_id: str, path: str | Path) -> Path:
    """Write one finished run of ``store`` as a bundle file at ``path``."""
    return write_bundle(read_run(store, run_id), path)


def _refuse(path: Path, why: str) -> BundleError:
    return BundleError(f"cannot import {path.name}: {why}; nothing was imported")


def read_bundle(path: str | Path) -> Bundle:
    """Read and check a bundle file completely (nothing is written anywhere)."""
    path = Path(path).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read bundle {path}: {exc.strerror or exc}") from None
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _refuse(path, "not a botarmy-nb run bundle (not a zip file)") from None
    with zf:
        names = set(zf.namelist())
        if "manifest.json" not in names:
            raise _refuse(path, "not a botarmy-nb run bundle (no manifest.json)")
        manifest = _json_member(zf, "manifest.json", path)
        if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
            found = manifest.get("format") if isinstance(manifest, dict) else None
            raise _refuse(path, f"not a botarmy-nb run bundle (format {found!r})")
        version = manifest.get("version")
        if not isinstance(version, int) or version > BUNDLE_VERSION:
            raise _refuse(
                path,
                f"bundle version {version!r} is newer than this botarmy-nb reads "
                f"({BUNDLE_VERSION}); upgrade botarmy-nb",
            )
        listed = manifest.get("members")
        if not isinstance(listed, dict):
            raise _refuse(path, "the manifest lists no members")
        unexpected = sorted(names - set(listed) - {"manifest.json"})
        if unexpected:
            raise _refuse(path, f"members not in the manifest: {', '.join(unexpected[:3])}")
        contents: dict[str, bytes] = {}
        for name, facts in listed.items():
            if name not in names:
                raise _refuse(path, f"{name} is missing")
            info = zf.getinfo(name)
            if info.file_size > MAX_MEMBER_BYTES:
                raise _refuse(path, f"{name} unpacks to {info.file_size} bytes (limit 1 GiB)")
            try:
                raw = zf.read(name)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _refuse(path, f"{name} is damaged ({exc})") from None
            if hashlib.sha256(raw).hexdigest() != (facts or {}).get("sha256"):
                raise _refuse(path, f"{name} is corrupt (its checksum does not match)")
            contents[name] = raw
    for needed in ("run.json", *(f"{t}.jsonl" for t in TABLES)):
        if needed not in contents:
            raise _refuse(path, f"{needed} is missing")
    return _parse(path, manifest, contents)


def _json_member(zf: zipfile.ZipFile, name: str, path: Path) -> Any:
    try:
        return json.loads(zf.read(name))
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise _refuse(path, f"{name} is not valid JSON ({exc})") from None


def _parse(path: Path, manifest: dict[str, Any], contents: dict[str, bytes]) -> Bundle:
    run_id = manifest.get("run_id")
    try:
        run = json.loads(contents["run.json"])
        record = RunRecord.model_validate(run)
    except (ValueError, ValidationError) as exc:
        raise _refuse(path, f"run.json does not describe a run ({_first_error(exc)})") from None
    if record.id != run_id:
        raise _refuse(path, f"run.json is run {record.id}, the manifest says {run_id}")
    if record.status not in TERMINAL_STATUSES:
        raise _refuse(path, f"the run is {record.status}, not finished")
    unknown = sorted(set(run) - set(_RUN_FIELDS))
    if unknown:
        raise _refuse(path, f"run.json has unknown fields: {', '.join(unknown[:3])}")
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        member = f"{table}.jsonl"
        model = _MODELS[table]
        out = []
        seen: set[Any] = set()
        for number, line in enumerate(contents[member].decode("utf-8", "replace").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{member} line {number}"
            try:
                row = json.loads(line)
                checked = model.model_validate(row)
            except (ValueError, ValidationError) as exc:
                raise _refuse(path, f"{where}: {_first_error(exc)}") from None
            if getattr(checked, "run_id", None) != record.id:
                raise _refuse(
                    path, f"{where} belongs to run {row.get('run_id')!r}, not {record.id}"
                )
            key = row.get("id") if table == "hitl" else row.get("seq")
            if key in seen:
                raise _refuse(path, f"{where} repeats {key!r}")
            seen.add(key)
            if table == "events":
                _check_event(path, where, row)
            out.append(row)
        rows[table] = out
        expected = (manifest["members"].get(member) or {}).get("rows")
        if expected is not None and expected != len(out):
            raise _refuse(path, f"{member} holds {len(out)} rows, the manifest says {expected}")
    cassette = contents.get("cassette.json")
    return Bundle(
        run=run,
        rows=rows,
        cassette=cassette.decode("utf-8") if cassette is not None else None,
        manifest=manifest,
    )


def _check_event(path: Path, where: str, row: dict[str, Any]) -> None:
    data = dict(row["payload"])
    data.update(
        run_id=row["run_id"],
        seq=row["seq"],
        type=row["type"],
        agent=row["agent"],
        created_at=row["created_at"],
    )
    if row["content"] is not None:
        data.setdefault("content" if row["type"] != "error" else "message", row["content"])
    try:
        parse_event(data)
    except ValidationError as exc:
        raise _refuse(path, f"{where} is not a botarmy event ({_first_error(exc)})") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "value"
        return f"{where}: {err.get('msg')}"
    return str(exc).splitlines()[0]


# -- into a store ------------------------------------------------------------------------


def _db_value(value: Any, column: Any) -> Any:
    from sqlalchemy import DateTime

    if value is not None and isinstance(column.type, DateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _db_row(row: dict[str, Any], table: Any) -> dict[str, Any]:
    columns = table.columns
    return {k: _db_value(v, columns[k]) for k, v in row.items()}


def import_bundle(store: Any, bundle: Bundle, *, cassette_dir: Path | None = None) -> ImportResult:
    """Write ``bundle`` into ``store`` in one transaction; rows already there (same run
    id and seq, or request id) are kept as they are, so a re-import adds nothing."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    insert = pg_insert if store.dialect == "postgresql" else sqlite_insert
    run_table = RunRow.__table__
    added: dict[str, int] = {}
    with store.transaction() as conn:
        result = conn.execute(
            insert(run_table).on_conflict_do_nothing(),
            [_db_row({**bundle.run, "project_id": None}, run_table)],
        )
        created = result.rowcount == 1
        for name in TABLES:
            table = _TABLES[name].__table__
            rows = [_db_row(r, table) for r in bundle.rows[name]]
            if not rows:
                added[name] = 0
                continue
            before = _count(conn, table, bundle.run_id)
            conn.execute(insert(table).on_conflict_do_nothing(), rows)
            added[name] = _count(conn, table, bundle.run_id) - before
    cassette = None
    if bundle.cassette is not None:
        cassette = _place_cassette(bundle, cassette_dir)
    return ImportResult(bundle.run_id, created, added, cassette)


def _count(conn: Any, table: Any, run_id: str) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).where(table.c.run_id == run_id)).scalar_one())


def _place_cassette(bundle: Bundle, cassette_dir: Path | None) -> Path:
    from botarmy_nb.settings import get_settings

    folder = cassette_dir or (get_settings().home / "cassettes")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{bundle.run_id}.json"
    if not target.exists() or target.read_text(encoding="utf-8") != bundle.cassette:
        target.write_text(bundle.cassette or "", encoding="utf-8")
    return target
