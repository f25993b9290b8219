"""Run bundles: SQLite → PostgreSQL → SQLite with identical frames, idempotent re-import,
all-or-nothing, corrupt and foreign files refused, no secrets inside."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import botarmy_nb as ba
from botarmy_nb import settings as settings_module
from botarmy_nb.store.base import open_store
from botarmy_nb.store.bundles import BundleError, import_bundle, read_bundle

FRAMES = ("runs", "messages", "model_calls", "artifacts", "steps", "hitl")


def _frames(run_id: str, url: str) -> dict[str, pd.DataFrame]:
    from botarmy_nb.store.frames import FRAMES as BUILDERS
    from botarmy_nb.store.frames import Filters

    store = open_store(url)
    out = {}
    for name in FRAMES:
        frame = BUILDERS[name](store, filters=Filters(run_ids=[run_id]) if name != "runs" else None)
        if name == "runs":
            frame = frame[frame["id"] == run_id].reset_index(drop=True)
        out[name] = frame
    return out


def _use(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("BOTARMY_DATABASE_URL", url)
    settings_module.reset_settings()


def test_sqlite_to_postgresql_and_back_keeps_every_frame(
    botarmy_home: Path, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_a = f"sqlite:///{tmp_path / 'a.db'}"
    sqlite_b = f"sqlite:///{tmp_path / 'b.db'}"
    _use(monkeypatch, sqlite_a)
    open_store(sqlite_a)  # upgrade the fresh file (a non-default URL is not auto-upgraded)
    run = ba.run(
        "Plan it", workflow="greenfield-service", variables={"project_name": "W"}, tags={"k": "v"}
    ).wait(120)
    assert run.status == "completed"
    original = _frames(run.id, sqlite_a)
    first = run.export(tmp_path / "one.botarmy.zip")

    _use(monkeypatch, pg_url)
    restored = ba.import_run(first)
    assert restored.id == run.id
    on_pg = _frames(run.id, pg_url)
    second = restored.export(tmp_path / "two.botarmy.zip")

    _use(monkeypatch, sqlite_b)
    open_store(sqlite_b)
    ba.import_run(second)
    back = _frames(run.id, sqlite_b)
    for name in FRAMES:
        assert len(original[name]) > 0 or name == "hitl", name
        pd.testing.assert_frame_equal(original[name], on_pg[name], obj=f"{name} on PostgreSQL")
        pd.testing.assert_frame_equal(original[name], back[name], obj=f"{name} back on SQLite")


def test_reimport_adds_nothing_and_a_second_store_gets_everything(
    use_database: str, tmp_path: Path
) -> None:
    run = ba.run("Write", name="bundled").wait(30)
    path = run.export(tmp_path / "r.zip")
    store = open_store()
    again = import_bundle(store, read_bundle(path))
    assert not again.created and set(again.added.values()) == {0}
    other = f"sqlite:///{tmp_path / 'other.db'}"
    open_store(other)
    first = import_bundle(open_store(other), read_bundle(path))
    assert first.created and first.added["events"] == len(run.events)
    assert first.added["artifacts"] == 2


def _rewrite(path: Path, target: Path, change) -> Path:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        members = {n: src.read(n) for n in src.namelist()}
        for name, data in change(members).items():
            dst.writestr(name, data)
    return target


@pytest.fixture
def bundle(botarmy_home: Path, tmp_path: Path) -> Path:
    return ba.run("Write", name="bundled").wait(30).export(tmp_path / "r.zip")


def test_corrupt_and_foreign_files_are_refused_with_what_is_wrong(
    bundle: Path, tmp_path: Path
) -> None:
    not_zip = tmp_path / "x.zip"
    not_zip.write_text("hello")
    cases = {
        "not a zip file": not_zip,
        "no manifest.json": _rewrite(
            bundle,
            tmp_path / "a.zip",
            lambda m: {k: v for k, v in m.items() if k != "manifest.json"},
        ),
        "events.jsonl is corrupt": _rewrite(
            bundle, tmp_path / "b.zip", lambda m: {**m, "events.jsonl": m["events.jsonl"][:-20]}
        ),
        "format 'mlflow'": _rewrite(
            bundle,
            tmp_path / "c.zip",
            lambda m: {**m, "manifest.json": json.dumps({"format": "mlflow"}).encode()},
        ),
        "bundle version 9 is newer": _rewrite(
            bundle,
            tmp_path / "d.zip",
            lambda m: {
                **m,
                "manifest.json": json.dumps({**json.loads(m["manifest.json"]), "version": 9}),
            },
        ),
        "members not in the manifest: evil.sh": _rewrite(
            bundle, tmp_path / "e.zip", lambda m: {**m, "evil.sh": b"rm -rf /"}
        ),
    }
    for message, path in cases.items():
        with pytest.raises(BundleError, match=message):
            ba.import_run(path)


def _resigned(members: dict[str, bytes], name: str, data: bytes) -> dict[str, bytes]:
    import hashlib

    manifest = json.loads(members["manifest.json"])
    manifest["members"][name]["sha256"] = hashlib.sha256(data).hexdigest()
    return {**members, name: data, "manifest.json": json.dumps(manifest).encode()}


def test_a_bad_row_anywhere_writes_nothing(bundle: Path, tmp_path: Path) -> None:
    def break_last_call(members: dict[str, bytes]) -> dict[str, bytes]:
        lines = members["model_calls.jsonl"].decode().splitlines()
        last = json.loads(lines[-1])
        last["run_id"] = "f" * 32
        lines[-1] = json.dumps(last)
        return _resigned(members, "model_calls.jsonl", ("\n".join(lines) + "\n").encode())

    broken = _rewrite(bundle, tmp_path / "f.zip", break_last_call)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    store = open_store(other)
    with pytest.raises(BundleError, match=r"model_calls.jsonl line 4 belongs to run 'ffff"):
        import_bundle(store, read_bundle(broken))
    assert store.list_runs() == []


def test_a_failing_write_rolls_everything_back(bundle: Path, tmp_path: Path) -> None:
    from botarmy_nb.errors import StoreError

    good = read_bundle(bundle)
    good.rows["artifacts"].append({**good.rows["artifacts"][0], "seq": None})  # NOT NULL
    other = f"sqlite:///{tmp_path / 'other.db'}"
    store = open_store(other)
    with pytest.raises(StoreError):
        import_bundle(store, good)
    assert store.list_runs() == [] and store.events(good.run_id) == []


def test_no_configured_secret_is_inside(
    botarmy_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-" + "Z9" * 20
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    settings_module.reset_settings()
    run = ba.run(f"Use the key {secret} for the demo", name="leaky").wait(30)
    path = run.export(tmp_path / "s.zip")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            assert secret.encode() not in zf.read(name), name


def test_a_running_run_is_not_exported(use_database: str, slow_model: str, tmp_path: Path) -> None:
    from botarmy_nb.errors import ConfigError

    run = ba.run("Slow", model=slow_model)
    with pytest.raises(ConfigError, match="wait for it to end"):
        run.export(tmp_path / "x.zip")
    run.wait(30)
