"""`%botarmy runs --help` prints the help of that command."""

from __future__ import annotations


def test_runs_help_prints_help(capsys) -> None:  # type: ignore[no-untyped-def]
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.testing.globalipapp import start_ipython

    start_ipython()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    assert shell.run_line_magic("botarmy", "runs --help") is None
    out = capsys.readouterr().out
    assert out.count("usage: %botarmy runs [--status S]") == 1 and "%%botarmy runs" not in out
