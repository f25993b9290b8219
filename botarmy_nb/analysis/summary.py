"""Summaries of run data: per agent, model or step — turns, tokens, cost, latency
percentiles, errors, retries and fallbacks. A total with any unknown part is unknown."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LATENCY_QUANTILES", "summarize", "totals"]

LATENCY_QUANTILES = (0.5, 0.9, 0.99)
TOTAL = "(all)"
# statuses of model-call attempts that end a request (the others: retry, fallback)
_ENDED = ("ok", "error", "cancelled")


def _keys(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _known_sum(frame: pd.DataFrame, column: str, keys: list[str]) -> pd.Series:
    """Per group: the sum, or <NA> if any value in the group is unknown."""
    values = frame[column]
    if keys:
        grouped = values.groupby([frame[k] for k in keys], observed=True, dropna=False)
        sums, unknown = (
            grouped.sum(min_count=0),
            values.isna().groupby([frame[k] for k in keys], observed=True, dropna=False).any(),
        )
        return sums.where(~unknown)
    import pandas as pd

    total = values.sum() if not values.isna().any() else None
    return pd.Series([total], dtype=values.dtype)


def _calls_summary(calls: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    import pandas as pd

    status = calls["status"].astype("str")
    work = pd.DataFrame(
        {
            "requests": status.isin(_ENDED).astype("int64"),
            "attempts": 1,
            "ok": (status == "ok").astype("int64"),
            "errors": (status == "error").astype("int64"),
            "retries": (status == "retry").astype("int64"),
            "fallbacks": (status == "fallback").astype("int64"),
            "cached": calls["cached"].astype("int64"),
        }
    )
    for k in keys:
        work[k] = calls[k]
    if keys:
        grouped = work.groupby(keys, observed=True, dropna=False)
        out = grouped.sum()
    else:
        out = work.sum().to_frame().T
    for column in ("prompt_tokens", "completion_tokens", "total_tokens"):
        out[column] = _known_sum(calls, column, keys).to_numpy()
        out[column] = out[column].astype("Int64")
    out["cost_usd"] = _known_sum(calls, "cost_usd", keys).astype("float64").to_numpy()
    latency = calls["latency_s"]
    for q in LATENCY_QUANTILES:
        name = f"latency_p{round(q * 100)}_s"
        if keys:
            grouped_latency = latency.groupby([calls[k] for k in keys], observed=True, dropna=False)
            out[name] = grouped_latency.quantile(q).to_numpy()
        else:
            out[name] = latency.quantile(q)
    if keys:
        out["latency_total_s"] = (
            latency.groupby([calls[k] for k in keys], observed=True, dropna=False).sum().to_numpy()
        )
    else:
        out["latency_total_s"] = latency.sum()
    return out


def _turns(messages: pd.DataFrame, keys: list[str]) -> pd.Series | int:
    said = messages[
        (messages["agent"].astype("str") != "user") & (messages["type"].astype("str") != "task")
    ]
    if not keys:
        return len(said)
    return said.groupby(keys, observed=True, dropna=False).size()


def summarize(
    frame: pd.DataFrame,
    by: str | Sequence[str] | None = "agent",
    *,
    messages: pd.DataFrame | None = None,
    total: bool = False,
) -> pd.DataFrame:
    """One row per group of a ``model_calls`` frame (``by`` = ``agent``, ``model``,
    ``step``, ``run_name``… or a list of them): requests, attempts, ok, errors, retries,
    fallbacks, tokens, cost, latency percentiles. With a ``messages`` frame (or when
    ``frame`` is one), ``turns`` counts what each group said. ``total=True`` adds a last
    row ``(all)``.

    A token or cost total is ``<NA>`` when any call in the group has it unknown: never a
    partial sum shown as exact.

    >>> ba.summarize(ba.model_calls(tags={"exp": "a"}), by=["run_name", "agent"])  # doctest: +SKIP
    """
    import pandas as pd

    keys = _keys(by)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ConfigError(
            f"cannot summarize by {', '.join(missing)}; columns: {', '.join(frame.columns)}"
        )
    if "latency_s" not in frame.columns:  # a messages frame: turns only
        if "content" not in frame.columns:
            raise ConfigError("summarize takes a model_calls or messages frame")
        turns = _turns(frame, keys)
        if not keys:
            return pd.DataFrame({"turns": [turns]})
        out = turns.rename("turns").reset_index()
        return _with_total(out, keys, total)
    out = _calls_summary(frame, keys)
    if messages is not None and all(k in messages.columns for k in keys):
        turns = _turns(messages, keys)
        if keys:
            out.insert(0, "turns", turns.reindex(out.index).fillna(0).astype("int64"))
        else:
            out.insert(0, "turns", turns)
    out = out.reset_index() if keys else out.reset_index(drop=True)
    return _with_total(out, keys, total, calls=frame)


def _with_total(
    out: pd.DataFrame, keys: list[str], total: bool, calls: pd.DataFrame | None = None
) -> pd.DataFrame:
    import pandas as pd

    for k in keys:  # plain labels: the (all) row must fit, and categories would not
        out[k] = out[k].astype("str")
    if not total or not keys:
        return out
    row: dict[str, Any] = {k: TOTAL for k in keys}
    if calls is not None:
        whole = _calls_summary(calls, []).iloc[0].to_dict()
        row.update(whole)
        if "turns" in out.columns:
            row["turns"] = int(out["turns"].sum())
    else:
        row["turns"] = int(out["turns"].sum())
    combined = pd.concat([out, pd.DataFrame([row])], ignore_index=True)
    for column in out.columns:
        if column not in keys:
            combined[column] = combined[column].astype(out[column].dtype)
    return combined


def totals(calls: pd.DataFrame) -> dict[str, Any]:
    """Totals of a ``model_calls`` frame as plain Python values (None when unknown)."""
    import pandas as pd

    row = _calls_summary(calls, []).iloc[0]
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            out[str(key)] = None
        elif key in ("cost_usd",) or str(key).startswith("latency"):
            out[str(key)] = float(value)
        else:
            out[str(key)] = int(value)
    return out
