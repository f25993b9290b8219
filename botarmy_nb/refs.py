"""Finding runs the way users name them: one run by a ref, many runs by filters.

Shared by the magics, the CLI, the widgets and ``ba.get_run`` so that every surface
accepts the same refs and refuses the same mistakes:

- a ref is an exact run id, an id prefix, or a run name; a name that several runs share
  (or a prefix of several ids) is refused with the candidates listed (id and time),
  never resolved to one of them silently;
- filters (status, team, workflow, template, tags, since/until) are checked first, and
  an unknown value is refused with the valid ones.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from botarmy_nb.errors import ConfigError, NotFoundError, did_you_mean
from botarmy_nb.events import RUN_STATUSES

if TYPE_CHECKING:
    from botarmy_nb.store.base import RunStore
    from botarmy_nb.store.records import RunRecord

__all__ = [
    "AmbiguousRunError",
    "RunFilter",
    "parse_when",
    "resolve_run",
    "select_runs",
]

_LISTED = 10  # candidates shown when a ref is ambiguous
_AGO = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class AmbiguousRunError(NotFoundError):
    """A ref that several runs answer to; the message lists them (id, time, status).
    Give the id or an id prefix instead."""

    def __init__(self, message: str, candidates: Sequence[RunRecord]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


def _describe(record: RunRecord) -> str:
    return (
        f"  {record.short_id}  {record.created_at:%Y-%m-%d %H:%M:%S} UTC  "
        f"{record.status:<9}  {record.name}"
    )


def resolve_run(ref: str, store: RunStore | None = None) -> RunRecord:
    """The one run ``ref`` names: an exact id, a unique id prefix, or a unique name.

    Raises NotFoundError if none matches and AmbiguousRunError if several do. A running
    run whose owner stopped heart-beating comes back ``lost`` (as ``store.get_run``).

    >>> resolve_run("3f2a9c1e")  # doctest: +SKIP
    RunRecord(id='3f2a9c1e…', name='demo', status='completed', …)
    """
    store = store if store is not None else _default_store()
    ref = ref.strip()
    if not ref:
        raise ConfigError("give a run: its id, an id prefix, or its name")
    found = store.find_runs(ref)
    if not found:
        raise NotFoundError(f"no run '{ref}' in {store_url(store)} (see `%botarmy runs`)")
    if len(found) > 1:
        by_id = all(r.id.startswith(ref) for r in found)
        what = f"id prefix '{ref}' matches" if by_id else f"{len(found)} runs are named '{ref}':"
        if by_id:
            what += f" {len(found)} runs:"
        newest = sorted(found, key=lambda r: r.created_at, reverse=True)
        lines = [_describe(r) for r in newest[:_LISTED]]
        if len(found) > _LISTED:
            lines.append(f"  … and {len(found) - _LISTED} more")
        raise AmbiguousRunError(
            f"{what}\n" + "\n".join(lines) + "\ngive the id (or a longer id prefix) of one",
            newest,
        )
    return store.get_run(found[0].id)  # by exact id: expires a dead owner's lease


def store_url(store: RunStore) -> str:
    return str(getattr(store, "url", "the run store"))


def _default_store() -> RunStore:
    from botarmy_nb.store.base import open_store

    return open_store()


# -- dates ---------------------------------------------------------------------------------


def parse_when(value: str | date | datetime | None, *, option: str = "since") -> datetime | None:
    """A point in time for ``since``/``until``: a datetime or date (naive means UTC), an
    ISO text (``2026-11-27``, ``2026-11-27T09:30``), ``today``, ``yesterday``, or an age
    such as ``30m``, ``2h``, ``7d``, ``1w`` (that long ago).

    >>> parse_when("2026-11-27").isoformat()
    '2026-11-27T00:00:00+00:00'
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip().lower()
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if text == "now":
        return now
    if text == "today":
        return midnight
    if text == "yesterday":
        return midnight - timedelta(days=1)
    ago = _AGO.match(text)
    if ago:
        return now - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise ConfigError(
            f"{option}={value!r} is not a date: give an ISO date or time "
            "(2026-11-27, 2026-11-27T09:30), today, yesterday, or an age such as 2h or 7d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# -- filters -------------------------------------------------------------------------------


@dataclass
class RunFilter:
    """Which runs to list; every value is checked by :meth:`check` before any is read."""

    status: str | None = None
    team: str | None = None
    workflow: str | None = None
    template: str | None = None
    name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    @classmethod
    def of(
        cls,
        *,
        status: str | None = None,
        team: str | None = None,
        workflow: str | None = None,
        template: str | None = None,
        name: str | None = None,
        tags: Mapping[str, str] | None = None,
        since: str | date | datetime | None = None,
        until: str | date | datetime | None = None,
        limit: int | None = None,
    ) -> RunFilter:
        """A filter from user input: texts become dates, and the status is checked."""
        if status is not None and status not in RUN_STATUSES:
            close = difflib.get_close_matches(status, RUN_STATUSES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(
                f"unknown status '{status}'{hint}; choose one of {', '.join(RUN_STATUSES)}"
            )
        if limit is not None and limit < 1:
            raise ConfigError(f"limit must be at least 1, not {limit}")
        start, end = parse_when(since, option="since"), parse_when(until, option="until")
        if start and end and start > end:
            raise ConfigError(
                f"since ({start:%Y-%m-%d %H:%M}) is after until ({end:%Y-%m-%d %H:%M})"
            )
        return cls(
            status=status or None,
            team=team or None,
            workflow=workflow or None,
            template=template or None,
            name=name or None,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            since=start,
            until=end,
            limit=limit,
        )

    def matches(self, record: RunRecord) -> bool:
        if self.status and record.status != self.status:
            return False
        for column in ("team", "workflow", "template", "name"):
            wanted = getattr(self, column)
            if wanted and getattr(record, column) != wanted:
                return False
        if any(record.tags.get(k) != v for k, v in self.tags.items()):
            return False
        if self.since and record.created_at < self.since:
            return False
        return not (self.until and record.created_at > self.until)


def _known_names(records: Iterable[RunRecord], column: str) -> set[str]:
    return {value for r in records if (value := getattr(r, column))}


def _catalog(column: str) -> set[str]:
    """Names the catalog knows for a column, so a team that never ran is no typo."""
    try:
        if column == "team":
            from botarmy_nb.specs.catalog import list_teams

            return {t.name for t in list_teams()}
        from botarmy_nb.bmad.loader import load_bmad

        core = load_bmad()
        return set(core.workflows if column == "workflow" else core.templates)
    except Exception:  # a broken YAML file must not stop anyone from listing runs
        return set()


def select_runs(filters: RunFilter, store: RunStore | None = None) -> list[RunRecord]:
    """The runs that match, oldest first (the newest ``limit`` when given).

    A team, workflow or template that neither the catalog nor any run knows is refused
    with the known ones (a typo would otherwise read as "no runs").
    """
    store = store if store is not None else _default_store()
    records = store.list_runs(status=filters.status)
    for column in ("team", "workflow", "template"):
        wanted = getattr(filters, column)
        if wanted:
            known = _known_names(records, column) | _known_names(
                store.list_runs() if filters.status else [], column
            )
            if wanted not in known and wanted not in _catalog(column):
                raise NotFoundError(
                    f"no {column} '{wanted}' has runs"
                    + did_you_mean(wanted, known | _catalog(column))
                )
    chosen = [r for r in records if filters.matches(r)]
    if filters.limit:
        chosen = chosen[-filters.limit :]
    return chosen
