"""Hypothesis strategies for spec files: YAML-ish documents with the real keys and values
of the wrong type, shared values (aliases), bombs, deep nesting, tags, control characters
and bytes that are not UTF-8 — the inputs a user's editor, or an attacker, can produce."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import strategies as st

# Values that have broken, or could break, a loader: path tricks, YAML-typed text, names.
TRAPS = [
    "..",
    "../escape.md",
    "/etc/passwd",
    "C:\\x.md",
    "a\\..\\b.md",
    "~/x.md",
    "x" * 300,
    "2020-13-45",
    "*",
    "-",
    ": ",
    "",
    " ",
    "writer",
    "critic",
    "analyst",
    "pm",
    "brief.md",
    "prd.md",
    "prd-tmpl",
    "has_ui and not legacy",
    "(" * 60 + "x" + ")" * 60,
    "not " * 50 + "x",
    " and ".join(["a"] * 400),
    "9" * 5000,
    "{{project_name}}",
]

scalars: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(TRAPS),
)


def values(keys: list[str] | None = None, leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any YAML value: scalars, lists and mappings (keyed by ``keys`` or junk) nested."""
    key = st.one_of(
        st.sampled_from(keys or ["name"]), st.text(max_size=6), st.integers(-2, 2), st.none()
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(key, inner, max_size=4)
        ),
        max_leaves=leaves,
    )


def field(right: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly the right shape for a field, sometimes anything at all."""
    return st.one_of(right, right, values())


def mapping(
    required: dict[str, st.SearchStrategy[Any]] | None = None,
    optional: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[Any, Any]]:
    """A mapping with the real keys (values mostly right), plus now and then a stray key."""
    base = st.fixed_dictionaries(
        {k: field(v) for k, v in (required or {}).items()},
        optional={k: field(v) for k, v in (optional or {}).items()},
    )
    stray = st.dictionaries(st.sampled_from(["nmae", "agnets", "extra", "x"]), scalars, max_size=1)
    return st.builds(lambda a, b: {**a, **b}, base, st.one_of(st.just({}), stray))


names = st.one_of(st.sampled_from(TRAPS), st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True))


def _containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, list | dict):
        found.append(value)
        for child in value.values() if isinstance(value, dict) else value:
            _containers(child, found)
    return found


@st.composite
def shared(draw: st.DrawFn, data: Any) -> Any:
    """``data`` with one container put inside another: aliases, sometimes recursive ones."""
    found = _containers(data, [])
    if len(found) < 2 or not draw(st.booleans()):
        return data
    what = draw(st.sampled_from(found))
    into = draw(st.sampled_from(found))
    if isinstance(into, dict):
        into[draw(st.sampled_from(["again", "name", "agents", "sections", "sequence"]))] = what
    else:
        into.append(what)
    return data


def bomb(levels: int, width: int) -> str:
    """A "billion laughs": each level lists the previous one ``width`` times."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


FRAGMENTS = [
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\ufeff",
    "\ud800",
    "&a ",
    "*a",
    "*nowhere",
    "!!int ",
    "!!timestamp ",
    "!!binary ",
    "!!bool ",
    "!!python/object:os.system ",
    "!custom ",
    "<<: *a\n",
    "? [a, b]\n: 1\n",
    "? {a: 1}\n: 1\n",
    "\t",
    "\n  - ",
    ": ",
    "'",
    '"',
    '"\\0"',
    "#",
    "---\n",
    "...\n",
    "%YAML 1.1\n---\n",
]


@st.composite
def yaml_text(draw: st.DrawFn, data: st.SearchStrategy[Any]) -> bytes:
    """A YAML file's bytes: a drawn document, dumped, then perhaps broken on purpose."""
    doc = draw(shared(draw(data)))
    try:
        text = yaml.safe_dump(
            doc,
            sort_keys=False,
            allow_unicode=draw(st.booleans()),
            default_flow_style=draw(st.sampled_from([False, None])),
            width=draw(st.sampled_from([80, 10_000])),
        )
    except RecursionError:
        text = "a: b\n"
    how = draw(st.sampled_from(["as is", "as is", "fragment", "bomb", "deep", "cut", "bytes"]))
    if how == "fragment":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at:]
    elif how == "bomb":
        levels, width = draw(st.integers(1, 12)), draw(st.integers(2, 10))
        text = bomb(levels, width) + text
    elif how == "deep":
        depth = draw(st.integers(30, 3_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ("{a: ", "}"), ("- ", "")]))
        if opener == "- ":
            nested = "".join("  " * i + "-\n" for i in range(depth)) + "  " * depth + "x\n"
            text += "deep:\n" + nested
        else:
            text += "deep: " + opener * depth + "x" + closer * depth + "\n"
    elif how == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    raw = text.encode("utf-8", "surrogatepass")
    if how == "bytes":
        at = draw(st.integers(0, len(raw)))
        raw = (
            raw[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]))
            + raw[at:]
        )
    return raw


def markdown_around(draw: Callable[[st.SearchStrategy[Any]], Any], block: bytes) -> bytes:
    """An agent .md file: prose, then the YAML in a fenced block (or a broken fence)."""
    before = draw(st.sampled_from([b"# Agent\n\n", b"", b"```yaml\n```\n", b"text\n" * 3]))
    fence = draw(st.sampled_from([b"```yaml\n", b"```yml\n", b"```YAML\n", b"``` yaml\n"]))
    after = draw(st.sampled_from([b"```\n", b"```\nmore\n```yaml\nx: [\n```\n", b""]))
    return before + fence + block + after
