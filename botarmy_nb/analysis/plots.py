"""Charts of run data with Altair (Vega-Lite): interactive in JupyterLab, saved as PNG or
SVG through vl-convert for nbval, GitHub and nbviewer (``chart.save("cost.png")``).

>>> ba.plot.cost(ba.model_calls(tags={"exp": "a"}), by="agent")  # doctest: +SKIP
>>> run.plot.timeline()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd

    from botarmy_nb.handle import Run

__all__ = ["RunPlots", "cost", "latency", "sweep", "timeline", "tokens"]

_STATUS_COLORS = {
    "ok": "#2ca02c",
    "retry": "#ff7f0e",
    "fallback": "#9467bd",
    "error": "#d62728",
    "cancelled": "#7f7f7f",
}


def _altair() -> Any:
    try:
        import altair as alt
    except ImportError:  # pragma: no cover - a dependency, but say how to get it
        raise ConfigError("charts need Altair: pip install altair vl-convert-python") from None
    return alt


def _need(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what} needs a frame with {', '.join(missing)} (see docs/data.md)")


def _by(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _group_label(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    label = frame[keys[0]].astype("str")
    for key in keys[1:]:
        label = label + " · " + frame[key].astype("str")
    return label


def timeline(
    source: Run | pd.DataFrame, steps: pd.DataFrame | None = None, *, width: int = 640
) -> alt.LayerChart:
    """Agents × time: one bar per model call (coloured by its status: ok, retry,
    fallback, error), over the shaded bands of a workflow's steps (numbered at the top).
    Time runs in seconds from the first call, so runs of different days compare.

    ``source`` is a Run (its calls and steps are read) or a ``model_calls`` frame (with
    an optional ``steps`` frame). Several runs in one frame get one lane per run and agent.
    """
    import pandas as pd

    alt = _altair()
    if not isinstance(source, pd.DataFrame):
        calls, steps = source.model_calls, _run_steps(source)
    else:
        calls = source
    _need(calls, ["created_at", "latency_s", "agent", "status"], "timeline")
    begin = (calls["created_at"] - pd.to_timedelta(calls["latency_s"], unit="s")).min()
    if steps is not None and len(steps):
        begin = min(begin, steps["started_at"].min())

    def elapsed(times: pd.Series) -> pd.Series:
        return (times - begin).dt.total_seconds()

    data = pd.DataFrame(
        {
            "lane": (
                _group_label(calls, ["run_name", "agent"])
                if "run_name" in calls and calls["run_name"].nunique() > 1
                else calls["agent"].astype("str")
            ),
            "start": elapsed(calls["created_at"]) - calls["latency_s"],
            "end": elapsed(calls["created_at"]),
            "status": calls["status"].astype("str"),
            "model": calls["model"].astype("str") if "model" in calls else "",
            "tokens": calls.get("total_tokens", pd.NA),
            "latency_s": calls["latency_s"].round(4),
        }
    )
    data["tokens"] = data["tokens"].astype("float64")
    if len(data):  # a call far shorter than the run still shows as a sliver
        sliver = max(float(data["end"].max()), 0.001) / 300
        data["end"] = data["end"].clip(lower=data["start"] + sliver)
    statuses = [s for s in _STATUS_COLORS if s in set(data["status"])] or ["ok"]
    bars = (
        alt.Chart(data)
        .mark_bar(height={"band": 0.7})
        .encode(
            x=alt.X("start:Q", title="seconds since the first call"),
            x2="end:Q",
            y=alt.Y("lane:N", title=None, sort=list(dict.fromkeys(data["lane"]))),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(domain=statuses, range=[_STATUS_COLORS[s] for s in statuses]),
            ),
            tooltip=["lane", "model", "status", "latency_s", "tokens"],
        )
    )
    layers = [bars]
    if steps is not None and len(steps):
        bands = pd.DataFrame(
            {
                "start": elapsed(steps["started_at"]),
                "end": elapsed(steps["finished_at"].fillna(steps["started_at"])),
                "step": steps["step"].astype("str"),
                "label": steps["label"].astype("str"),
            }
        )
        layers.insert(
            0,
            alt.Chart(bands)
            .mark_rect(opacity=0.1, color="#4c78a8", stroke="#4c78a8", strokeOpacity=0.4)
            .encode(x="start:Q", x2="end:Q", tooltip=["step", "label"]),
        )
        layers.append(
            alt.Chart(bands)
            .mark_text(align="left", baseline="top", dx=2, dy=2, fontSize=9, color="#4c78a8")
            .encode(x="start:Q", y=alt.value(0), text="step:N", tooltip=["step", "label"])
        )
    return alt.layer(*layers).properties(width=width, title="Model calls over time")


def _run_steps(run: Run) -> pd.DataFrame | None:
    from botarmy_nb.data import steps

    frame = steps(run.id)
    return frame if len(frame) else None


def tokens(calls: pd.DataFrame, by: str | Sequence[str] = "agent") -> alt.Chart:
    """Prompt and completion tokens per group (stacked bars); groups with any unknown
    count are marked ``unknown`` rather than drawn short."""
    import pandas as pd

    from botarmy_nb.analysis.summary import summarize

    alt = _altair()
    keys = _by(by)
    summary = summarize(calls, by=keys)
    summary["group"] = _group_label(summary, keys)
    long = summary.melt(
        id_vars=["group"],
        value_vars=["prompt_tokens", "completion_tokens"],
        var_name="kind",
        value_name="tokens",
    )
    long["kind"] = long["kind"].str.removesuffix("_tokens")
    long["tokens"] = long["tokens"].astype("float64")
    unknown = summary.loc[summary["total_tokens"].isna(), ["group"]]
    chart = (
        alt.Chart(long.dropna(subset=["tokens"]))
        .mark_bar()
        .encode(
            x=alt.X("tokens:Q", title="tokens"),
            y=alt.Y("group:N", title=" · ".join(keys), sort=list(summary["group"])),
            color=alt.Color("kind:N", sort=["prompt", "completion"]),
            tooltip=["group", "kind", "tokens"],
        )
    )
    return _with_unknown(alt, chart, unknown, "tokens", pd).properties(title="Tokens")


def cost(calls: pd.DataFrame, by: str | Sequence[str] = "agent") -> alt.Chart:
    """Cost in USD per group; a group with any call of unknown price is labelled
    ``unknown`` (never a partial sum drawn as exact)."""
    import pandas as pd

    from botarmy_nb.analysis.summary import summarize

    alt = _altair()
    keys = _by(by)
    summary = summarize(calls, by=keys)
    summary["group"] = _group_label(summary, keys)
    known = summary.dropna(subset=["cost_usd"])[["group", "cost_usd"]]
    unknown = summary.loc[summary["cost_usd"].isna(), ["group"]]
    chart = (
        alt.Chart(known)
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X("cost_usd:Q", title="cost (USD)"),
            y=alt.Y("group:N", title=" · ".join(keys), sort=list(summary["group"])),
            tooltip=["group", alt.Tooltip("cost_usd:Q", format=".6f")],
        )
    )
    return _with_unknown(alt, chart, unknown, "cost_usd", pd).properties(title="Cost")


def _with_unknown(alt: Any, chart: Any, unknown: pd.DataFrame, x: str, pd: Any) -> Any:
    if unknown.empty:
        return chart
    marks = pd.DataFrame({"group": unknown["group"], x: 0.0, "label": "unknown"})
    text = (
        alt.Chart(marks)
        .mark_text(align="left", dx=3, color="#7f7f7f")
        .encode(x=f"{x}:Q", y="group:N", text="label:N")
    )
    return alt.layer(chart, text)


def latency(calls: pd.DataFrame, by: str | Sequence[str] = "agent") -> alt.LayerChart:
    """The latency distribution per group: a box from p25 to p75, the median, whiskers to
    p5 and p95, and the p99 as a tick (computed here, so any number of calls fits)."""
    import pandas as pd

    alt = _altair()
    keys = _by(by)
    _need(calls, ["latency_s", *keys], "latency")
    label = _group_label(calls, keys)
    grouped = calls["latency_s"].groupby(label)
    stats = pd.DataFrame(
        {f"p{q}": grouped.quantile(q / 100) for q in (5, 25, 50, 75, 95, 99)}
    ).reset_index(names="group")
    stats["calls"] = grouped.size().to_numpy()
    base = alt.Chart(stats).encode(y=alt.Y("group:N", title=" · ".join(keys)))
    axis = alt.Axis(tickCount=5, format="~g")
    whiskers = base.mark_rule().encode(x=alt.X("p5:Q", title="latency (s)", axis=axis), x2="p95:Q")
    box = base.mark_bar(size=14, color="#9ecae1").encode(x="p25:Q", x2="p75:Q")
    median = base.mark_tick(color="#08519c", size=14, thickness=2).encode(
        x="p50:Q", tooltip=["group", "calls", "p50", "p95", "p99"]
    )
    p99 = base.mark_tick(color="#d62728", size=10).encode(x="p99:Q")
    return alt.layer(whiskers, box, median, p99).properties(title="Latency per model call")


def sweep(
    results: pd.DataFrame,
    x: str,
    y: str = "total_tokens",
    *,
    color: str | None = None,
) -> alt.LayerChart:
    """Compare the runs of a sweep: the mean of ``y`` per value of ``x`` (one colour per
    value of ``color``), with each run as a dot so repeats show their spread."""
    import pandas as pd

    alt = _altair()
    _need(results, [x, y, *([color] if color else [])], "the sweep chart")
    data = results[[x, y, *([color] if color else [])]].copy()
    data[y] = pd.to_numeric(data[y], errors="coerce").astype("float64")
    data[x] = data[x].astype("str")
    encode: dict[str, Any] = {"x": alt.X(f"{x}:N", title=x)}
    if color:
        data[color] = data[color].astype("str")
        encode["color"] = alt.Color(f"{color}:N", title=color)
        encode["xOffset"] = alt.XOffset(f"{color}:N")
    bars = (
        alt.Chart(data)
        .mark_bar(opacity=0.6)
        .encode(**encode, y=alt.Y(f"mean({y}):Q", title=f"mean {y}"))
    )
    dots = (
        alt.Chart(data)
        .mark_circle(size=30, color="black", opacity=0.7)
        .encode(**{k: v for k, v in encode.items() if k != "color"}, y=f"{y}:Q", tooltip=list(data))
    )
    return alt.layer(bars, dots).properties(title=f"{y} by {x}")


class RunPlots:
    """``run.plot``: the charts of one run."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def timeline(self) -> alt.LayerChart:
        return timeline(self._run)

    def tokens(self, by: str | Sequence[str] = "agent") -> alt.Chart:
        return tokens(self._run.model_calls, by)

    def cost(self, by: str | Sequence[str] = "agent") -> alt.Chart:
        return cost(self._run.model_calls, by)

    def latency(self, by: str | Sequence[str] = "agent") -> alt.LayerChart:
        return latency(self._run.model_calls, by)
