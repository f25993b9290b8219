"""The line-tracking YAML loader refuses bombs, deep nesting and unreadable values by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from yaml_strategies import bomb

from botarmy_nb.errors import SpecError
from botarmy_nb.specs.yamlpos import (
    MAX_ALIAS_VALUES,
    MAX_ALIASES,
    MAX_DEPTH,
    load_yaml,
    relative_name_problem,
)


def _refused(text: str | bytes, tmp_path: Path) -> SpecError:
    path = tmp_path / "team.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    with pytest.raises(SpecError) as info:
        load_yaml(path)
    assert info.value.file == str(path)
    return info.value


def test_a_billion_laughs_is_refused_before_it_grows(tmp_path: Path) -> None:
    # 9 levels of 9 aliases: 387 million values once expanded; safe_load shares them, the
    # line-tracking build would not — so it must be refused from the node graph alone
    error = _refused(bomb(9, 9), tmp_path)
    assert f"aliases would add more than {MAX_ALIAS_VALUES} values" in str(error)
    assert error.line is not None and error.line <= 10


def test_a_small_alias_is_still_fine(tmp_path: Path) -> None:
    doc = load_yaml("base: &b {role: writer}\nagents: [*b, *b]\n" + bomb(3, 3))
    assert doc.data["agents"] == [{"role": "writer"}] * 2
    assert doc.line_of(("agents", 1, "role")) == 1  # an alias keeps its anchor's line


def test_alias_floods_and_recursive_aliases_are_refused(tmp_path: Path) -> None:
    many = "a: &a x\nb: [" + ", ".join(["*a"] * (MAX_ALIASES + 1)) + "]\n"
    assert f"more than {MAX_ALIASES} aliases" in str(_refused(many, tmp_path))
    for text in ("a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a {<<: *a}\n"):
        assert "refers to a value that contains it" in str(_refused(text, tmp_path))


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5_000 + "]" * 5_000,
        "a: " + "{a: " * 5_000 + "x" + "}" * 5_000,
        "".join("  " * i + "-\n" for i in range(300)),
    ],
)
def test_deep_nesting_is_refused_not_a_recursion_error(text: str, tmp_path: Path) -> None:
    assert f"nested deeper than {MAX_DEPTH} levels" in str(_refused(text, tmp_path))


def test_aliases_cannot_nest_past_the_depth_limit(tmp_path: Path) -> None:
    text = "a0: &a0 [x]\n" + "".join(
        f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]\n" for i in range(1, 10)
    )
    error = _refused(text, tmp_path)
    assert f"aliases nest values deeper than {MAX_DEPTH} levels" in str(error)
    load_yaml("a: &a " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\nb: *a\n")


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("name: x\n? [a, b]\n: 1\n", 2, "a key must be a plain value, not a list"),
        ("name: x\n? {a: 1}\n: 1\n", 2, "a key must be a plain value, not a mapping"),
        ("name: x\nwhen: 2020-13-45\n", 2, "cannot read '2020-13-45' as timestamp"),
        ("name: !!int abc\n", 1, "cannot read 'abc' as int"),
        ("name: !!bool maybe\n", 1, "cannot read 'maybe' as bool"),
        ("name: [!!int ]\n", 1, "cannot read '' as int"),
        ("name: !!timestamp soon\n", 1, "cannot read 'soon' as timestamp"),
        ('name: x\nrole: "a\\0b"\n', 2, "NUL character"),
        ("name: x\nrole: a\x00b\n", 2, "character #x0000 is not allowed"),
        ("name: x\n\nrole: \x1b[31m\n", 3, "character #x001b is not allowed"),
        ("name: !!python/object:os.system x\n", 1, "malformed YAML"),
    ],
)
def test_bad_values_name_the_line(text: str, line: int, message: str, tmp_path: Path) -> None:
    error = _refused(text, tmp_path)
    assert message in str(error) and error.line == line


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    error = _refused(b"name: x\nrole: caf\xe9\n", tmp_path)
    assert "not UTF-8 text (byte 0xe9" in str(error) and error.line == 2


def test_embedded_yaml_reports_lines_of_the_outer_file() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml("a: 1\nb: [x\n", name="agent.md", line_offset=10)
    assert info.value.line == 12
    assert load_yaml("a: 1\nb: 2\n", line_offset=10).line_of(("b",)) == 12


@pytest.mark.parametrize(
    "name, problem",
    [
        ("docs/prd.md", None),
        ("qa/gates/{{epic}}.{{story}}.yml", None),
        ("a..b.md", None),
        ("/etc/passwd", "relative path"),
        ("\\\\server\\share", "relative path"),
        ("C:notes.md", "relative path"),
        ("~/notes.md", "relative path"),
        ("../up.md", "'..'"),
        ("docs/../../up.md", "'..'"),
        ("docs\\..\\up.md", "'..'"),
        ("x" * 201, "at most 200"),
        ("a\x00b", "control character"),
        ("  ", "empty"),
    ],
)
def test_relative_names(name: str, problem: str | None) -> None:
    found = relative_name_problem(name)
    assert (found is None) if problem is None else (found is not None and problem in found)
