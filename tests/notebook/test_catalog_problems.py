"""`%botarmy workflows` and `templates` list the files of the BMAD path that did not load."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_listings_show_what_did_not_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    from botarmy_nb import settings

    core = tmp_path / "core"
    (core / "agents").mkdir(parents=True)
    (core / "templates").mkdir()
    (core / "templates" / "broken-tmpl.yaml").write_text("template:\n  id: [unclosed\n")
    monkeypatch.setenv("BOTARMY_BMAD_PATH", str(core))
    settings.reset_settings()
    start_ipython()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    for command in ("workflows", "templates"):
        frame = shell.run_line_magic("botarmy", command)
        assert len(frame) > 0  # everything else still loads
        shown = capsys.readouterr().out
        assert "did not load" in shown and "broken-tmpl.yaml" in shown
