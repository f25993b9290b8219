"""``%%botarmy`` option lines and ``--var``: parsed, or a UsageError with the usage line."""

from __future__ import annotations

import re
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from botarmy_nb.notebook.magics import _HelpShown, parse_cell_options


@pytest.fixture
def ip(botarmy_home):  # type: ignore[no-untyped-def]
    """A real InteractiveShell on the embedded defaults."""
    start_ipython()  # the test shell, once per process
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "botarmy_nb")
    return shell


def test_a_nul_in_the_options_is_a_usage_error(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="NUL character") as info:
        ip.run_cell_magic("botarmy", "--var a=b\x00c", "task")
    assert "usage: %%botarmy" in str(info.value)


def test_line_commands_show_their_own_usage(ip) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match=r"usage: %botarmy runs \[--status S\]"):
        ip.run_line_magic("botarmy", "runs --limit none")
    with pytest.raises(UsageError, match=r"usage: %botarmy COMMAND"):
        ip.run_line_magic("botarmy", "show 'unclosed")


_OPTIONS = [
    "--team",
    "--workflow",
    "--template",
    "--model",
    "--var",
    "--max-turns",
    "--name",
    "--executor",
    "--wait",
    "--interpolate",
    "--record",
    "--replay",
    "--help",
    "-h",
    "--",
    "-",
    "--v",
    "--re",
    "--var=",
    "--max-turns=0",
]
_words = st.one_of(
    st.sampled_from(_OPTIONS),
    st.sampled_from(["local", "celery", "3", "-1", "9" * 5_000, "a=b", "=b", "critic=scripted"]),
    st.text(max_size=10),
)


@given(st.lists(_words, max_size=8), st.booleans())
def test_fuzzed_option_lines_parse_or_are_usage_errors(words: list[str], quote: bool) -> None:
    line = " ".join(shlex.quote(w) if quote else w for w in words)
    try:
        options = parse_cell_options(line)
    except UsageError as exc:
        assert "usage: %%botarmy" in str(exc)
        return
    except _HelpShown:
        assert "--help" in line or "-h" in line
        return
    assert options.max_turns is None or options.max_turns >= 1
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in options.var)
    assert options.model is None or isinstance(options.model, str)


@given(st.text(max_size=12).filter(lambda k: "=" not in k), st.text(max_size=12))
def test_fuzzed_vars_are_kept_exactly_or_refused(key: str, value: str) -> None:
    try:
        options = parse_cell_options(f"--var {shlex.quote(f'{key}={value}')}")
    except UsageError as exc:
        assert "usage: %%botarmy" in str(exc)
        assert (
            "\x00" in key + value or "KEY=VALUE" in str(exc) or "expected one argument" in str(exc)
        )
        return
    assert options.var == [(key, value)]
    assert re.fullmatch(r"[A-Za-z_][\w.-]*", key, re.S)  # what {{KEY}} can name
