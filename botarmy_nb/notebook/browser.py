"""The runs browser (``%botarmy runs``): filter runs by status, team and date, open one's
view, compare two side by side. Without a widget front end the same filters give a plain
table (:func:`runs_table`)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from botarmy_nb.events import RUN_STATUSES
from botarmy_nb.refs import RunFilter, select_runs

if TYPE_CHECKING:
    import pandas as pd

    from botarmy_nb.handle import Run
    from botarmy_nb.store.records import RunRecord

__all__ = ["RunsBrowser", "compare_messages", "compare_totals", "runs_table"]

TABLE_COLUMNS = [
    "id",
    "name",
    "status",
    "team",
    "workflow",
    "template",
    "model",
    "created_at",
    "duration_s",
]
_ERROR = "color:#b00020"
_CLIP = 400  # characters of a message shown in a comparison


def runs_table(filters: RunFilter | None = None) -> pd.DataFrame:
    """The runs that match as a small table (short ids, oldest first)."""
    return _table(select_runs(filters or RunFilter()))


def _table(records: list[RunRecord]) -> pd.DataFrame:
    import pandas as pd

    rows = [
        {
            **r.model_dump(include=set(TABLE_COLUMNS)),
            "id": r.short_id,
            "duration_s": r.duration_s,
        }
        for r in records
    ]
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["duration_s"] = frame["duration_s"].astype("Float64")
    return frame


def _what(record: RunRecord) -> str:
    for kind in ("team", "workflow", "template"):
        value = getattr(record, kind)
        if value:
            return f"{kind} {value}"
    return ""


# -- comparing two runs ----------------------------------------------------------------------


def _label(run: Run) -> str:
    return f"{run.name} ({run.id[:8]})"


def compare_totals(a: Run, b: Run) -> pd.DataFrame:
    """Status, duration, messages, model calls, tokens and cost of two runs, one column
    each (a total that is unknown for a run stays missing, never 0)."""
    import pandas as pd

    def totals(run: Run) -> dict[str, Any]:
        record = run.record
        messages = run.messages
        return {
            "what": _what(record),
            "status": record.status,
            "model": record.model,
            "duration_s": record.duration_s,
            "messages": len(messages),
            **run.usage,
            "artifacts": len(run.artifacts),
        }

    return pd.DataFrame({_label(a): totals(a), _label(b): totals(b)})


def compare_messages(a: Run, b: Run) -> pd.DataFrame:
    """The two conversations turn by turn: agent and what it said, side by side."""
    import pandas as pd

    def turns(run: Run) -> pd.DataFrame:
        frame = run.messages
        return pd.DataFrame(
            {"agent": frame["agent"].astype(str).to_list(), "content": frame["content"].to_list()}
        )

    left, right = turns(a), turns(b)
    size = max(len(left), len(right))
    left, right = left.reindex(range(size)), right.reindex(range(size))
    columns = pd.MultiIndex.from_product([[_label(a), _label(b)], ["agent", "content"]])
    out = pd.concat([left, right], axis=1)
    out.columns = columns
    out.index = pd.RangeIndex(1, size + 1, name="turn")
    return out


# -- the widget ------------------------------------------------------------------------------


class RunsBrowser:
    """Filters, a list of runs, and Open / Compare; ``.widget`` is what is displayed."""

    def __init__(self, filters: RunFilter | None = None) -> None:
        import ipywidgets as widgets

        filters = filters or RunFilter()
        self.filters = filters
        self.records: list[RunRecord] = []
        self.view: Any = None
        self.status = widgets.Dropdown(
            options=[("any", "")] + [(s, s) for s in RUN_STATUSES],
            value=filters.status or "",
            description="status",
        )
        self.ran = widgets.Dropdown(options=[("any", "")], value="", description="ran")
        self.since = widgets.Text(
            value=filters.since.isoformat(timespec="minutes") if filters.since else "",
            description="since",
            placeholder="2026-11-27, 2h, 7d, today",
        )
        self.until = widgets.Text(
            value=filters.until.isoformat(timespec="minutes") if filters.until else "",
            description="until",
            placeholder="2026-11-27T18:00, yesterday",
        )
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.runs = widgets.SelectMultiple(
            options=[], rows=10, description="runs", layout={"width": "100%"}
        )
        self.open_button = widgets.Button(description="Open", icon="eye")
        self.compare_button = widgets.Button(description="Compare", icon="columns")
        self.message = widgets.HTML("")
        self.detail = widgets.VBox([])
        self.refresh_button.on_click(lambda _: self.refresh())
        self.open_button.on_click(lambda _: self.open())
        self.compare_button.on_click(lambda _: self.compare())
        for control in (self.status, self.ran):
            control.observe(lambda _: self.refresh(), names="value")
        for box in (self.since, self.until):
            box.continuous_update = False
            box.observe(lambda _: self.refresh(), names="value")
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>botarmy runs</b>"),
                widgets.HBox([self.status, self.ran]),
                widgets.HBox([self.since, self.until, self.refresh_button]),
                self.runs,
                widgets.HBox([self.open_button, self.compare_button]),
                self.message,
                self.detail,
            ]
        )
        self._set_ran_options(initial=filters)
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, with the runs as a table for front ends without widgets (a saved
        notebook, GitHub, nbviewer)."""
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        table = _table(self.records)
        data["text/plain"] = f"botarmy runs browser: {len(table)} runs\n{table.to_string()}"
        data["text/html"] = table.to_html(escape=True, index=False)
        return data

    def _set_ran_options(self, initial: RunFilter | None = None) -> None:
        """Every team, workflow and template some run used (plus the one filtered on)."""
        from botarmy_nb.errors import BotArmyError

        try:
            seen = {(k, v) for r in select_runs(RunFilter()) for k, v in _kinds(r)}
        except BotArmyError:
            seen = set()
        if initial is not None:
            seen |= {(k, getattr(initial, k)) for k in ("team", "workflow", "template")}
            seen = {(k, v) for k, v in seen if v}
        options = [("any", "")] + [(f"{k} {v}", f"{k}:{v}") for k, v in sorted(seen)]
        current = self.ran.value
        self.ran.options = options
        if initial is not None:
            chosen = next(
                (
                    f"{k}:{getattr(initial, k)}"
                    for k in ("team", "workflow", "template")
                    if getattr(initial, k)
                ),
                "",
            )
            self.ran.value = chosen
        elif current in [v for _, v in options]:
            self.ran.value = current

    def current_filter(self) -> RunFilter:
        """The filter the controls describe (ConfigError for a date that is not one)."""
        kind, _, value = self.ran.value.partition(":")
        return RunFilter.of(
            status=self.status.value or None,
            tags=self.filters.tags,
            since=self.since.value.strip() or None,
            until=self.until.value.strip() or None,
            limit=self.filters.limit,
            **({kind: value} if value else {}),
        )

    def refresh(self) -> None:
        """Read the runs that match the filters again."""
        from botarmy_nb.errors import BotArmyError

        try:
            self.records = select_runs(self.current_filter())
        except BotArmyError as exc:
            self._say(str(exc))
            return
        newest = list(reversed(self.records))
        self.runs.options = [(_row(r), r.id) for r in newest]
        count = len(newest)
        self._say(None, f"{count} run{'s' if count != 1 else ''}")

    def _say(self, problem: str | None, note: str = "") -> None:
        text = f"<div style='{_ERROR}'>{html.escape(problem)}</div>" if problem else ""
        self.message.value = text + (f"<div>{html.escape(note)}</div>" if note else "")

    def _selected(self) -> list[Run]:
        from botarmy_nb.handle import Run
        from botarmy_nb.store.base import open_store

        store = open_store()
        return [Run(run_id, store) for run_id in self.runs.value]

    def open(self) -> Run | None:
        """Show the view of the (first) selected run below the list."""
        from botarmy_nb.notebook.live import LiveView

        chosen = self._selected()
        if not chosen:
            self._say("select a run first")
            return None
        run = chosen[0]
        self.view = LiveView(run).start()
        self.detail.children = [self.view.widget]
        return run

    def compare(self) -> tuple[Run, Run] | None:
        """Show two selected runs side by side: totals, then the conversations."""
        import ipywidgets as widgets

        chosen = self._selected()
        if len(chosen) != 2:
            self._say(f"select exactly two runs to compare ({len(chosen)} selected)")
            return None
        import pandas as pd

        a, b = sorted(chosen, key=lambda run: run.record.created_at)
        totals = compare_totals(a, b).to_html(na_rep="unknown", escape=True)
        messages = compare_messages(a, b)
        # escaped here, so that line breaks show as breaks (pandas would print them as \n)
        shown = messages.map(_cell_html)
        shown.columns = pd.MultiIndex.from_tuples(
            [(html.escape(run), part) for run, part in messages.columns]
        )
        conversation = shown.to_html(na_rep="", escape=False)
        self.detail.children = [
            widgets.HTML(f"<b>totals</b>{totals}"),
            widgets.HTML(f"<b>messages</b><div style='overflow:auto'>{conversation}</div>"),
        ]
        return a, b


def _kinds(record: RunRecord) -> list[tuple[str, str]]:
    return [(k, v) for k in ("team", "workflow", "template") if (v := getattr(record, k))]


def _cell_html(value: Any) -> Any:
    """A message cut to ``_CLIP`` characters, escaped, its line breaks kept."""
    if not isinstance(value, str):
        return value
    if len(value) > _CLIP:
        value = value[:_CLIP] + "…"
    return html.escape(value).replace("\n", "<br>")


def _row(record: RunRecord) -> str:
    return (
        f"{record.short_id}  {record.created_at:%Y-%m-%d %H:%M}  {record.status:<9}  "
        f"{record.name[:30]:<30}  {_what(record)}"
    )
