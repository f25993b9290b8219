"""The harness's shared parts: figure results, the isolated environment, timing helpers."""

from __future__ import annotations

import contextlib
import gc
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BOTARMY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BOTARMY_BENCH_REDIS", "redis://127.0.0.1:6379/15")

REPLIES = [f"Reply number {i}: a short, plausible sentence about the task." for i in range(10)]


def team_yaml(name: str, max_messages: int) -> str:
    """A two-writer round-robin team that stops after ``max_messages`` (task included)."""
    return f"""
name: {name}
type: round_robin
agents:
  - {{name: alice, role: writer}}
  - {{name: bob, role: writer}}
termination: {{text: null, max_messages: {max_messages}}}
artifacts: []
"""


@dataclass
class Figure:
    """One row of the table. ``compare`` says how ours meets the target:

    - ``le``/``ge``: ratio = ours / baseline, target ``ratio <= limit`` / ``>= limit``;
    - ``abs``: ours itself must be ``<= limit`` (the baseline, if any, is context);
    - ``diff``: ours - baseline must be ``<= limit``.
    """

    id: str
    name: str
    unit: str
    compare: str
    limit: float
    ours: float | None = None
    baseline: float | None = None
    na: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.ours is None:
            return None
        if self.compare in ("le", "ge"):
            return self.ours / self.baseline if self.baseline else None
        if self.compare == "diff":
            return self.ours - self.baseline if self.baseline is not None else None
        return None

    @property
    def met(self) -> bool | None:
        if self.ours is None:
            return None
        if self.compare == "le":
            return self.ratio is not None and self.ratio <= self.limit
        if self.compare == "ge":
            return self.ratio is not None and self.ratio >= self.limit
        if self.compare == "diff":
            return self.ratio is not None and self.ratio <= self.limit
        return self.ours <= self.limit

    @property
    def target(self) -> str:
        return {
            "le": f"<= {self.limit:g}x",
            "ge": f">= {self.limit:g}x",
            "abs": f"<= {self.limit:g} {self.unit}",
            "diff": f"<= +{self.limit:g} {self.unit}",
        }[self.compare]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(ratio=self.ratio, met=self.met, target=self.target)
        return data


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("rows/s", "runs/s", "B"):
        return f"{value:,.0f} {unit}"
    if unit == "MB":
        return f"{value:,.1f} {unit}"
    if unit == "ms":
        return f"{value:,.2f} ms"
    return f"{value:,.3f} {unit}"


def table(figures: list[Figure]) -> str:
    rows = [("figure", "ours", "baseline", "ratio", "target", "")]
    notes = []
    for f in figures:
        if f.na:
            notes.append(f"[{len(notes) + 1}] {f.id} {f.name}: n/a ({f.na})")
            rows.append((f"{f.id} {f.name}", f"n/a [{len(notes)}]", "", "", f.target, "—"))
            continue
        r = f.ratio
        ratio = "—" if r is None else (f"{r:+.2f} {f.unit}" if f.compare == "diff" else f"{r:.2f}x")
        mark = {True: "✔", False: "✘", None: "—"}[f.met]
        rows.append(
            (
                f"{f.id} {f.name}",
                fmt(f.ours, f.unit),
                fmt(f.baseline, f.unit),
                ratio,
                f.target,
                mark,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + notes)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    packages = {}
    for name in (
        "botarmy-nb",
        "autogen-agentchat",
        "autogen-core",
        "autogen-ext",
        "sqlalchemy",
        "psycopg",
        "adbc-driver-postgresql",
        "pandas",
        "pyarrow",
        "pydantic",
        "ipython",
        "ipywidgets",
        "celery",
        "redis",
        "kombu",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    memory = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    return {
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "packages": packages,
    }


# -- timing -------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(rounds: int, sides: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run each side once per round, in turn, so noise hits every side alike; return every
    side's measurements (callers keep the best)."""
    out: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, side in sides.items():
            gc.collect()
            out[name].append(side())
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


# -- environment --------------------------------------------------------------------------------


class Env:
    """A private BOTARMY_HOME (SQLite store, artifacts) and, on request, a private
    PostgreSQL database and Redis database, all removed at the end."""

    def __init__(self) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="botarmy-bench-"))
        self.sqlite_path = self.home / "botarmy.db"  # the embedded store, as users get it
        self.sqlite_url = f"sqlite:///{self.sqlite_path}"
        self._databases: list[str] = []
        os.environ["BOTARMY_HOME"] = str(self.home)
        os.environ["BOTARMY_LOG_LEVEL"] = "ERROR"
        for name in ("BOTARMY_DATABASE_URL", "BOTARMY_REDIS_URL", "BOTARMY_EXECUTOR"):
            os.environ.pop(name, None)
        self.teams = self.home / "teams"
        self.teams.mkdir()

    def team(self, name: str, max_messages: int) -> str:
        path = self.teams / f"{name}.yaml"
        if not path.exists():
            path.write_text(team_yaml(name, max_messages))
        return str(path)

    def use(self, database_url: str | None, *, redis_url: str | None = None) -> None:
        """Point the product's settings at a store (None: the embedded SQLite file)."""
        from botarmy_nb import settings

        if database_url is None:
            os.environ.pop("BOTARMY_DATABASE_URL", None)
        else:
            os.environ["BOTARMY_DATABASE_URL"] = database_url
        if redis_url is None:
            os.environ.pop("BOTARMY_REDIS_URL", None)
        else:
            os.environ["BOTARMY_REDIS_URL"] = redis_url
        settings.reset_settings()

    def postgres(self) -> str:
        """A fresh database (SQLAlchemy URL); raises if the server is unreachable."""
        import psycopg

        name = f"botarmy_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._databases.append(name)
        base = PG_ADMIN.rsplit("/", 1)[0]
        return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"

    def close(self) -> None:
        import shutil

        with contextlib.suppress(Exception):
            from botarmy_nb.store.base import close_stores

            close_stores()
        if self._databases:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                for name in self._databases:
                    with contextlib.suppress(psycopg.Error):
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(self.home, ignore_errors=True)


def plain_pg(url: str) -> str:
    """A libpq URL (psycopg, ADBC) from a SQLAlchemy one."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def pg_available() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL unavailable: {type(exc).__name__}"


def redis_available() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
        return None
    except Exception as exc:
        return f"Redis unavailable: {type(exc).__name__}"


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    import logging

    previous = logging.root.level
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        logging.root.setLevel(previous)
