"""Run data across runs as tidy DataFrames, filtered in SQL (columns: docs/data.md).

>>> import botarmy_nb as ba
>>> ba.messages(team="writers-room", agent="critic", since="2026-11-01")  # doctest: +SKIP
>>> ba.model_calls(tags={"experiment": "a"}, status="retry")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.store.frames import Filters
    from botarmy_nb.store.sql import SqlRunStore

__all__ = ["artifacts", "hitl", "messages", "model_calls", "resolve_run_ids", "runs", "steps"]

RunRefs = Any  # a run id, id prefix or name, a Run, a list of those, or a frame of runs
_RUN_LEVEL = ("team", "workflow", "template", "run_status", "run_name", "tags")
# frames whose rows have a status of their own; elsewhere ``status=`` means the run's
_OWN_STATUS = ("runs", "model_calls", "hitl")


def _store() -> SqlRunStore:
    from botarmy_nb.store.base import open_store

    return open_store()  # type: ignore[return-value]


def resolve_run_ids(refs: RunRefs, store: Any = None) -> list[str] | None:
    """Full run ids for ``refs``: ids, id prefixes, names, ``Run`` handles, or a runs
    frame (its ``id`` column) / any frame with a ``run_id`` column."""
    import pandas as pd

    if refs is None:
        return None
    if isinstance(refs, pd.DataFrame):
        column = "id" if "id" in refs.columns else "run_id"
        if column not in refs.columns:
            raise ConfigError("a frame of runs needs an 'id' or 'run_id' column")
        refs = list(dict.fromkeys(refs[column].astype("str")))
    elif isinstance(refs, pd.Series):
        refs = list(dict.fromkeys(refs.astype("str")))
    elif isinstance(refs, str) or not isinstance(refs, Iterable):
        refs = [refs]
    out: list[str] = []
    for ref in refs:
        ref = getattr(ref, "id", ref)
        if not isinstance(ref, str):
            raise ConfigError(f"not a run reference: {ref!r}")
        if len(ref) == 32 and all(c in "0123456789abcdef" for c in ref):
            out.append(ref)  # a full id: no lookup (a frame of thousands of runs)
        else:
            out.append((store or _store()).get_run(ref).id)
    return out


def _when(value: Any, name: str) -> datetime | None:
    """A UTC datetime for ``since``/``until``: the same forms as ``--since`` (a datetime,
    date, pandas Timestamp, ISO text, ``today``, ``yesterday``, an age such as ``2h``)."""
    from botarmy_nb.refs import parse_when

    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp
        value = value.to_pydatetime()
    return parse_when(value, option=name)


@functools.cache
def _columns(kind: str) -> tuple[str, ...]:
    """The columns of a frame (read once from an empty result)."""
    from botarmy_nb.store.frames import Filters

    frame = _store().frame(kind, Filters(run_ids=[]))
    return tuple(frame.columns)


def _frame(kind: str, run_ids: RunRefs, filters: Mapping[str, Any]) -> pd.DataFrame:
    from botarmy_nb.store.frames import PUSHABLE, Filters

    store = _store()
    options: dict[str, Any] = {"run_ids": resolve_run_ids(run_ids, store)}
    columns: dict[str, Any] = {}
    in_pandas: dict[str, Any] = {}
    for key, value in filters.items():
        if key in ("since", "until"):
            options[key] = _when(value, key)
        elif key == "tags":
            if not isinstance(value, Mapping):
                raise ConfigError(f"tags= takes a dict such as {{'exp': 'a'}}, not {value!r}")
            options["tags"] = {str(k): v for k, v in value.items()}
        elif key == "status" and kind not in _OWN_STATUS:
            options["run_status"] = value
        elif kind == "runs" and key == "run_status":
            columns["status"] = value
        elif kind == "runs" and key in ("team", "workflow", "template", "run_name"):
            columns["name" if key == "run_name" else key] = value
        elif key in _RUN_LEVEL:
            options[key] = value
        elif key in PUSHABLE[kind]:
            columns[key] = value
        elif key in _columns(kind):
            in_pandas[key] = value  # a derived column (run_name, step, attempt…)
        else:
            raise ConfigError(
                f"cannot filter on '{key}'; columns: {', '.join(_columns(kind))}, "
                "and since, until, tags, team, workflow, template, run_status"
            )
    if kind == "runs" and options["run_ids"] is not None:
        columns["id"] = options.pop("run_ids")
    filters_: Filters = Filters(**options, columns=columns)
    frame = store.frame(kind, filters_)
    return _pandas_filter(frame, in_pandas)


def _pandas_filter(frame: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    if not filters:
        return frame
    keep = None
    for column, value in filters.items():
        if isinstance(value, list | tuple | set):
            mask = frame[column].isin(list(value))
        elif value is None:
            mask = frame[column].isna()
        else:
            mask = frame[column] == value
        mask = mask.fillna(False).astype(bool)
        keep = mask if keep is None else keep & mask
    frame = frame[keep].reset_index(drop=True)
    for column in frame.select_dtypes("category").columns:
        frame[column] = frame[column].cat.remove_unused_categories()
    return frame


def runs(run_ids: RunRefs = None, **filters: Any) -> pd.DataFrame:
    """One row per run, oldest first.

    Filters (all in SQL): ``status``, ``team``, ``workflow``, ``template``, ``model``,
    ``name``, ``executor``, ``queue``, ``tags={"k": "v"}``, ``since``/``until`` (on
    ``created_at``); a list value means "any of".
    """
    return _frame("runs", run_ids, filters)


def messages(run_ids: RunRefs = None, **filters: Any) -> pd.DataFrame:
    """One row per message, runs in creation order, each run in seq order.

    Filters (in SQL): ``agent``, ``type``, ``model``, ``since``/``until`` (the message's
    time), and the run's ``team``, ``workflow``, ``template``, ``status``, ``tags``.
    """
    return _frame("messages", run_ids, filters)


def model_calls(run_ids: RunRefs = None, **filters: Any) -> pd.DataFrame:
    """One row per model call attempt (retries and fallbacks included).

    Filters (in SQL): ``agent``, ``provider``, ``model``, ``status`` (the call's:
    ok/retry/fallback/error/cancelled), ``cached``, ``since``/``until``, and the run's
    ``team``, ``workflow``, ``template``, ``run_status``, ``tags``.
    """
    return _frame("model_calls", run_ids, filters)


def artifacts(run_ids: RunRefs = None, **filters: Any) -> pd.DataFrame:
    """One row per artifact version (content from the database)."""
    return _frame("artifacts", run_ids, filters)


def steps(run_ids: RunRefs = None, **filters: Any) -> pd.DataFrame:
    """One row per workflow step execution: when it started and ended, how, by whom."""
    return _frame("steps", run_ids, filters)


def hitl(run_ids: RunRefs = None, **filters: Any) -> pd.DataFrame:
    """One row per human-in-the-loop request and its answer."""
    return _frame("hitl", run_ids, filters)
