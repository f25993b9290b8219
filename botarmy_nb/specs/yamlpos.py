"""YAML loading that remembers where each value was, so errors can name file and line.

Team files, agent libraries and BMAD files all come through here, so this is where
untrusted YAML is bounded: nesting depth and alias use are limited while the document
is composed, and what aliases would expand to is measured on the node graph (each
shared node once) before anything is built — a "billion laughs" file is refused in
milliseconds, not expanded. Every problem is a SpecError with file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from botarmy_nb.errors import SpecError

__all__ = [
    "MAX_ALIASES",
    "MAX_ALIAS_VALUES",
    "MAX_DEPTH",
    "LocatedYaml",
    "load_yaml",
    "raise_validation_error",
    "read_text",
    "relative_name_problem",
]

Path_ = tuple[Any, ...]

MAX_DEPTH = 64  # nesting levels, aliases followed; upstream BMAD files need 9
MAX_ALIASES = 1_000  # "*name" references in one document
MAX_ALIAS_VALUES = 100_000  # values that aliases may add to a document once expanded
MAX_NAME_LENGTH = 200  # artifact names are stored in a String(300) column


@dataclass
class LocatedYaml:
    """Parsed YAML data plus the 1-based line of every key/item path."""

    data: Any
    file: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def error(self, path: Path_, message: str) -> SpecError:
        field_name = ".".join(str(p) for p in path) or None
        return SpecError(message, file=self.file, line=self.line_of(path), field=field_name)


class _Refused(Exception):
    """A document that breaks a limit or holds a value we cannot use, with its position."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = mark.line + 1 if mark is not None else None


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and alias floods while it reads.

    Only collections and aliases pay for the checks: scalars, most of a document, take
    the plain PyYAML path.
    """

    def __init__(self, text: str) -> None:
        self.depth = 0
        self.aliases = 0
        super().__init__(text)

    def fetch_alias(self) -> None:
        self.aliases += 1
        if self.aliases > MAX_ALIASES:
            raise _Refused(f"more than {MAX_ALIASES} aliases (*name)", self.get_mark())
        super().fetch_alias()

    def _descend(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)

    def compose_sequence_node(self, anchor: Any) -> Any:
        self._descend()
        node = super().compose_sequence_node(anchor)
        self.depth -= 1
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        self._descend()
        node = super().compose_mapping_node(anchor)
        self.depth -= 1
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_aliases(root: yaml.Node) -> None:
    """Refuse recursive aliases, and aliases that would expand too far or too deep.

    Sizes and heights are memoized per node, so this costs one visit per distinct node
    however often aliases repeat it; descent stops at MAX_DEPTH, so it cannot recurse far.
    """
    known: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, height)
    open_nodes: set[int] = set()
    added = 0  # values that repeated (aliased) nodes add once expanded

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        """(values, collection height) of ``node``, found ``depth`` collections down."""
        nonlocal added
        key = id(node)
        if key in open_nodes:
            raise _Refused("an alias refers to a value that contains it", node.start_mark)
        sized = known.get(key)
        if sized is not None:
            added += sized[0]
            if added > MAX_ALIAS_VALUES:
                raise _Refused(
                    f"aliases would add more than {MAX_ALIAS_VALUES} values to the document "
                    "(a YAML bomb?)",
                    node.start_mark,
                )
        elif isinstance(node, yaml.ScalarNode):
            sized = known[key] = (1, 0)
        else:
            if depth >= MAX_DEPTH:
                raise _Refused(
                    f"aliases nest values deeper than {MAX_DEPTH} levels", node.start_mark
                )
            open_nodes.add(key)
            size, height = 1, 1
            for child in _children(node):
                child_size, child_height = visit(child, depth + 1)
                size, height = size + child_size, max(height, child_height + 1)
            open_nodes.discard(key)
            sized = known[key] = (size, height)
        if depth + sized[1] > MAX_DEPTH:
            raise _Refused(f"aliases nest values deeper than {MAX_DEPTH} levels", node.start_mark)
        return sized

    visit(root, 0)


def _scalar(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    try:
        value = loader.construct_object(node, deep=True)
    except (ValueError, TypeError, LookupError, AttributeError, ArithmeticError) as exc:
        # PyYAML's own constructors fail this way on values such as 2020-13-45 or !!int x
        raise _Refused(
            f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]} ({exc})",
            node.start_mark,
        ) from None
    if isinstance(value, str) and "\x00" in value:
        raise _Refused("text may not hold a NUL character (\\0)", node.start_mark)
    return value


def _build(node: yaml.Node, path: Path_, loader: yaml.SafeLoader, lines: dict[Path_, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                kind = "list" if isinstance(key_node, yaml.SequenceNode) else "mapping"
                raise _Refused(f"a key must be a plain value, not a {kind}", key_node.start_mark)
            key = _scalar(key_node, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), loader, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loader, lines) for i, item in enumerate(node.value)]
    return _scalar(node, loader)


def read_text(path: Path) -> str:
    """A spec file's text; unreadable or non-UTF-8 files are SpecErrors naming the line."""
    file = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror or exc}", file=file) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            file=file,
            line=line,
        ) from None


def load_yaml(source: str | Path, *, name: str | None = None, line_offset: int = 0) -> LocatedYaml:
    """Load a YAML file (a Path) or text (a str, shown as ``name``) with line positions.

    ``line_offset`` is added to every line, for YAML embedded in a larger file.
    """
    if isinstance(source, Path):
        file, text = str(source), read_text(source)
    else:
        file, text = name or "<yaml>", source
    loader: _BoundedLoader | None = None
    lines: dict[Path_, int] = {}
    try:
        loader = _BoundedLoader(text)
        node = loader.get_single_node()
        if node is not None and loader.aliases:
            _check_aliases(node)
        data = _build(node, (), loader, lines) if node is not None else None
        lines.setdefault((), 1)  # an empty document: its problems are on line 1
    except _Refused as exc:
        line = exc.line + line_offset if exc.line is not None else None
        raise SpecError(f"refused YAML: {exc.message}", file=file, line=line) from None
    except yaml.MarkedYAMLError as exc:
        # the construct's start (an unclosed "[" say) is where the user must look
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = exc.problem or str(exc)
        if exc.context_mark and exc.problem_mark and exc.problem_mark.line != exc.context_mark.line:
            problem += f" (noticed at line {exc.problem_mark.line + 1 + line_offset})"
        raise SpecError(f"malformed YAML: {problem}", file=file, line=line) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 + line_offset
        what = (
            f"character #x{exc.character:04x}"
            if isinstance(exc.character, int)
            else "an undecodable byte"
        )
        raise SpecError(
            f"malformed YAML: {what} is not allowed (control characters cannot appear)",
            file=file,
            line=line,
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if line_offset:
        lines = {path: line + line_offset for path, line in lines.items()}
    return LocatedYaml(data=data, file=file, lines=lines)


def relative_name_problem(value: str) -> str | None:
    """Why ``value`` is not a safe relative file name (``docs/prd.md``), or None if it is.

    Refused: absolute paths (``/x``, ``\\x``, ``C:x``), ``..`` parts (with either slash),
    control characters, and names longer than MAX_NAME_LENGTH.
    """
    if not value.strip():
        return "is empty"
    if len(value) > MAX_NAME_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "holds a control character"
    if value.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:", value):
        return "must be a relative path, not an absolute or home (~) one"
    if ".." in value.replace("\\", "/").split("/"):
        return "must not climb out of its folder with '..'"
    return None


def raise_validation_error(doc: LocatedYaml, exc: ValidationError, *, base: Path_ = ()) -> None:
    """Turn pydantic's first error into a SpecError pointing at the YAML line."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # discriminated unions add the tag to loc; keep only parts that exist in the document
    path: list[Any] = list(base)
    for part in loc:
        candidate = (*path, part)
        if candidate in doc.lines or not doc.lines:
            path.append(part)
    message = err["msg"]
    if err["type"] == "extra_forbidden" and loc:
        message = f"unknown field '{loc[-1]}'"
    elif err["type"] == "missing" and loc:
        message = f"missing required field '{loc[-1]}'"
        field_path = (*base, *loc)
        raise SpecError(
            message,
            file=doc.file,
            line=doc.line_of(tuple(path)),
            field=".".join(str(p) for p in field_path),
        ) from None
    raise doc.error(tuple(path) if path else (*base, *loc), message) from None
