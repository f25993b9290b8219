"""Inserting a cell into the notebook from a widget's click.

``set_next_input`` rides on an execute reply, so from a widget callback (no execution)
the cell would appear below whatever cell runs next, or never. :class:`CellWriter` is an
invisible widget whose browser side inserts the cell at once, below the cell that shows
a given widget, through the notebook model that JupyterLab's (and Notebook 7's) widget
manager holds. It says on load whether it can; where it cannot, callers fall back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget

__all__ = ["CellWriter"]

_ESM = r"""
function notebookOf(model) {
  const context = model.widget_manager && model.widget_manager.context;
  const notebook = context && context.model;
  return notebook && notebook.sharedModel && notebook.cells ? notebook : null;
}

function shows(cell, modelId) {
  const outputs = cell.outputs;
  if (!outputs) return false;
  for (let i = 0; i < outputs.length; i++) {
    const data = outputs.get(i).data || {};
    const view = data["application/vnd.jupyter.widget-view+json"];
    if (view && view.model_id === modelId) return true;
  }
  return false;
}

// once per widget model in the page (views may come and go; the insert happens once)
function initialize({ model }) {
  model.send({ can_insert: notebookOf(model) !== null });
  model.on("msg:custom", (msg) => {
    if (!msg || typeof msg.source !== "string") return;
    const notebook = notebookOf(model);
    let below = -1;
    if (notebook) {
      for (let i = 0; i < notebook.cells.length; i++) {
        if (shows(notebook.cells.get(i), msg.below)) below = i;
      }
    }
    if (below >= 0) {
      notebook.sharedModel.insertCell(below + 1, { cell_type: "code", source: msg.source });
    }
    model.send({ inserted: below >= 0, source: msg.source });
  });
}

export default { initialize, render() {} };
"""


class CellWriter(anywidget.AnyWidget):  # type: ignore[misc]
    """Display it inside the widget whose cell gets the new cells below it.

    ``written(inserted, source)`` is called when the browser answered an :meth:`insert`.
    """

    _esm = _ESM

    def __init__(self, written: Callable[[bool, str], None], **kwargs: Any) -> None:
        super().__init__(layout={"display": "none"}, **kwargs)
        self.can_insert = False  # a front end that can insert cells showed this widget
        self._written = written
        self.on_msg(self._heard)

    def insert(self, source: str, *, below: Any) -> None:
        """Ask the browser for a code cell with ``source`` below the cell showing ``below``
        (a displayed widget)."""
        self.send({"source": source, "below": below.model_id})

    def _heard(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if "can_insert" in content:
            self.can_insert = bool(content["can_insert"])
        elif isinstance(content.get("source"), str):
            self._written(bool(content.get("inserted")), content["source"])
