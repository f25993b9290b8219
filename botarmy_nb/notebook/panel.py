"""The control panel (``%botarmy panel``, ``ba.panel()``): choose a team, workflow or
template, fill its variables, pick models and the executor, then Start — or write the
same run as a ``%%botarmy`` cell so that what was clicked stays reproducible."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from botarmy_nb.notebook.forms import (
    KINDS,
    FieldSpec,
    Kind,
    RunChoice,
    agents_for,
    fields_for,
    model_spec,
    provider_choices,
    saved_line,
    validate_values,
)

if TYPE_CHECKING:
    from botarmy_nb.handle import Run

__all__ = ["ControlPanel", "panel"]

_ERROR = "color:#b00020"
_WIDE = {"width": "100%"}


def panel(*, shell: Any = None) -> ControlPanel:
    """The control panel widget; display it (it is the last value of a cell, or
    ``display(ba.panel())``).

    >>> import botarmy_nb as ba
    >>> ba.panel()  # doctest: +SKIP
    """
    return ControlPanel(shell=shell)


class _ModelPicker:
    """A provider dropdown (✔ configured / ✘ why not) and the model's name."""

    def __init__(self, label: str, first: str) -> None:
        import ipywidgets as widgets

        self.providers = {c.name: c for c in provider_choices()}
        options = [(first, "")] + [(c.label, c.name) for c in self.providers.values()]
        self.provider = widgets.Dropdown(options=options, value="", description=label)
        self.provider.style.description_width = "9em"
        self.model = widgets.Text(placeholder="model", layout={"width": "16em"})
        self.provider.observe(self._provider_changed, names="value")
        self.widget = widgets.HBox([self.provider, self.model])

    def _provider_changed(self, change: dict[str, Any]) -> None:
        choice = self.providers.get(change["new"])
        self.model.value = choice.default_model if choice else ""
        self.model.placeholder = (
            "model@http://host:port/v1"
            if choice and choice.needs_base_url
            else "model, e.g. gpt-4o-mini"
        )

    @property
    def spec(self) -> str | None:
        return model_spec(self.provider.value, self.model.value)


class _FieldRow:
    """One variable: its input (dropdown, combobox or text) and an inline message."""

    def __init__(self, spec: FieldSpec) -> None:
        import ipywidgets as widgets

        self.spec = spec
        label = spec.name + (" *" if spec.required else "")
        common: dict[str, Any] = {"description": label, "tooltip": spec.description}
        if spec.choices:
            options = ([] if spec.required else [""]) + list(spec.choices)
            value = spec.default if spec.default in options else options[0]
            self.input: Any = widgets.Dropdown(options=options, value=value, **common)
        elif spec.suggestions:
            self.input = widgets.Combobox(
                options=list(spec.suggestions), value=spec.default or "", **common
            )
        else:
            self.input = widgets.Text(value=spec.default or "", **common)
        self.input.placeholder = spec.description[:80]
        self.input.style.description_width = "9em"
        self.message = widgets.HTML("")
        self.widget = widgets.HBox([self.input, self.message])

    @property
    def value(self) -> str:
        return str(self.input.value or "")

    def show(self, problem: str | None) -> None:
        self.message.value = (
            f"<span style='{_ERROR}'>{html.escape(problem)}</span>" if problem else ""
        )


class ControlPanel:
    """The panel's widgets and what its buttons do; ``.widget`` is what is displayed.

    Start and "Write cell" both read one :class:`~botarmy_nb.notebook.forms.RunChoice`,
    so the written cell starts exactly the run the panel would.
    """

    def __init__(self, *, shell: Any = None) -> None:
        import ipywidgets as widgets

        self.shell = shell
        self.run: Run | None = None
        self.view: Any = None
        self._names = self._catalog()
        self.kind = widgets.ToggleButtons(
            options=list(KINDS), value="team", description="Run a", style={"button_width": "7em"}
        )
        self.target = widgets.Dropdown(description="name")
        self.task = widgets.Textarea(
            description="task", placeholder="What should the agents do?", layout=_WIDE
        )
        self.form = widgets.VBox([])
        self.default_model = _ModelPicker("all agents", "default model")
        self.agent_models = widgets.VBox([])
        self._pickers: dict[str, _ModelPicker] = {}
        self._rows: list[_FieldRow] = []
        from botarmy_nb.executors.base import executor_names
        from botarmy_nb.settings import get_settings

        names = executor_names()
        default_executor = get_settings().executor
        self.executor = widgets.Dropdown(
            options=names,
            value=default_executor if default_executor in names else names[0],
            description="executor",
        )
        self.run_name = widgets.Text(description="run name", placeholder="(the target's name)")
        self.max_turns = widgets.BoundedIntText(
            value=0, min=0, max=10_000, description="max turns", tooltip="0: no limit"
        )
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play")
        self.cell_button = widgets.Button(
            description="Write cell", icon="pencil", tooltip="insert the equivalent %%botarmy cell"
        )
        self.message = widgets.HTML("")
        self.view_box = widgets.VBox([])
        from botarmy_nb.notebook.cell_writer import CellWriter

        self.writer = CellWriter(self._written)
        self.kind.observe(lambda _: self._kind_changed(), names="value")
        self.target.observe(lambda _: self._target_changed(), names="value")
        self.start_button.on_click(lambda _: self.start())
        self.cell_button.on_click(lambda _: self.write_cell())
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>botarmy control panel</b>"),
                widgets.HBox([self.kind, self.target]),
                self.task,
                widgets.HTML("<i>variables</i> (* required)"),
                self.form,
                widgets.HTML("<i>models</i>"),
                self.default_model.widget,
                self.agent_models,
                widgets.HBox([self.executor, self.run_name, self.max_turns]),
                widgets.HBox([self.start_button, self.cell_button]),
                self.message,
                self.view_box,
                self.writer,
            ]
        )
        self._kind_changed()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = dict(self.widget._repr_mimebundle_(**kwargs) or {})  # + a saved-notebook line
        data["text/plain"] = "botarmy control panel (it needs a running kernel)"
        data["text/html"] = saved_line("control panel")
        return data

    # -- choices ---------------------------------------------------------------------------

    def _catalog(self) -> dict[str, list[str]]:
        """Names for each kind; a broken file hides only its kind, with the reason shown."""
        from botarmy_nb.errors import BotArmyError

        self._catalog_errors: list[str] = []
        names: dict[str, list[str]] = {k: [] for k in KINDS}
        try:
            from botarmy_nb.specs.catalog import list_teams

            names["team"] = sorted(t.name for t in list_teams())
        except BotArmyError as exc:
            self._catalog_errors.append(f"teams: {exc}")
        try:
            from botarmy_nb.bmad.loader import load_bmad

            core = load_bmad()
            names["workflow"] = sorted(core.workflows)
            names["template"] = sorted(core.templates)
        except BotArmyError as exc:
            self._catalog_errors.append(f"BMAD core: {exc}")
        return names

    def _kind_changed(self) -> None:
        options = self._names[self.kind.value]
        self.target.options = options
        default = "writers-room" if self.kind.value == "team" else None
        self.target.value = default if default in options else (options[0] if options else None)
        self._target_changed()

    def _target_changed(self) -> None:
        from botarmy_nb.errors import BotArmyError

        kind: Kind = self.kind.value
        self._rows, self._pickers = [], {}
        problems = list(self._catalog_errors)
        if self.target.value:
            try:
                self._rows = [_FieldRow(f) for f in fields_for(kind, self.target.value)]
                self._pickers = {
                    agent: _ModelPicker(agent, "same as all agents")
                    for agent in agents_for(kind, self.target.value)
                }
            except BotArmyError as exc:
                problems.append(str(exc))
        self.form.children = [r.widget for r in self._rows]
        self.agent_models.children = [p.widget for p in self._pickers.values()]
        self._say(problems)

    def _say(self, problems: list[str], note: str = "") -> None:
        text = "".join(f"<div style='{_ERROR}'>{html.escape(p)}</div>" for p in problems) + (
            f"<div>{note}</div>" if note else ""
        )
        self.message.value = text

    @property
    def fields(self) -> dict[str, Any]:
        """The form's inputs by variable name; set one's ``.value`` to fill it from code."""
        return {r.spec.name: r.input for r in self._rows}

    @property
    def pickers(self) -> dict[str, Any]:
        """Each agent's own model: ``.provider`` (a dropdown) and ``.model`` (its text)."""
        return dict(self._pickers)

    def choice(self) -> RunChoice:
        """What the panel shows right now."""
        return RunChoice(
            kind=self.kind.value,
            target=self.target.value or "",
            task=self.task.value,
            variables={r.spec.name: r.value.strip() for r in self._rows},
            model=self.default_model.spec,
            agent_models={a: p.spec for a, p in self._pickers.items() if p.spec},
            executor=self.executor.value,
            name=self.run_name.value.strip() or None,
            max_turns=self.max_turns.value or None,
        )

    def _checked(self) -> RunChoice | None:
        """The choice if the form is complete; else None, with messages beside the fields."""
        choice = self.choice()
        problems = validate_values([r.spec for r in self._rows], choice.variables)
        for row in self._rows:
            row.show(problems.get(row.spec.name))
        missing = []
        if not choice.target:
            missing.append(f"choose a {choice.kind}")
        if not choice.task.strip():
            missing.append("write the task")
        if problems:
            missing.append("fill in the marked fields")
        if missing:
            self._say(["To start: " + "; ".join(missing)])
            return None
        return choice

    # -- buttons ---------------------------------------------------------------------------

    def start(self) -> Run | None:
        """Start the run the panel describes and show its view; None (with the reason
        shown) when something is missing or invalid."""
        from botarmy_nb import api
        from botarmy_nb.errors import BotArmyError

        choice = self._checked()
        if choice is None:
            return None
        try:
            prepared = api.prepare(choice.task, **choice.prepare_kwargs())
            run = api.submit(prepared)
        except BotArmyError as exc:
            self._say([str(exc)])
            return None
        self.run = run
        shell = self._shell()
        if shell is not None:
            shell.user_ns["_botarmy_run"] = run
        self._say([], f"started run <b>{html.escape(prepared.name)}</b> ({run.id[:8]})")
        self._show_view(run)
        return run

    def _show_view(self, run: Run) -> None:
        from botarmy_nb.notebook.live import LiveView

        self.view = LiveView(run).start()
        self.view_box.children = [self.view.widget]

    def write_cell(self) -> str | None:
        """Insert the equivalent ``%%botarmy`` cell below the panel; returns its source,
        or None when the form is incomplete.

        In JupyterLab and Notebook 7 the browser inserts it at once (a widget callback's
        ``set_next_input`` would wait for the next cell's reply); elsewhere it is shown here
        to copy, and set as the kernel's next input.
        """
        from botarmy_nb.errors import BotArmyError

        choice = self._checked()
        if choice is None:
            return None
        try:
            source = choice.cell_source()
        except BotArmyError as exc:
            self._say([str(exc)])
            return None
        if self.writer.can_insert:
            self.writer.insert(source, below=self.widget)
        else:
            self._next_input(source)
        return source

    def _written(self, inserted: bool, source: str) -> None:
        if inserted:
            self._say([], "the %%botarmy cell is below (run it to start the same run)")
        else:  # the panel's cell is no longer in the notebook
            self._next_input(source)

    def _next_input(self, source: str) -> None:
        shell = self._shell()
        if shell is not None:
            shell.set_next_input(source, replace=False)
        self._say(
            [],
            "this front end cannot insert a cell from a click; copy the equivalent cell "
            "(some front ends add it after the next cell you run):"
            f"<pre>{html.escape(source)}</pre>",
        )

    def _shell(self) -> Any:
        if self.shell is not None:
            return self.shell
        from IPython import get_ipython

        return get_ipython()
