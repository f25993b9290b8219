"""YAML loading that remembers where each value was, so errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from botarmy_nb.errors import SpecError

__all__ = ["LocatedYaml", "load_yaml", "raise_validation_error"]

Path_ = tuple[str | int, ...]


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


def _build(node: yaml.Node, path: Path_, loader: yaml.SafeLoader, lines: dict[Path_, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), loader, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loader, lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def load_yaml(source: str | Path, *, name: str | None = None) -> LocatedYaml:
    """Load a YAML file (a Path) or text (a str, shown as ``name``) with line positions."""
    if isinstance(source, Path):
        file = str(source)
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"cannot read: {exc.strerror}", file=file) from None
    else:
        file, text = name or "<yaml>", source
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path_, int] = {}
        data = _build(node, (), loader, lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        # the construct's start (an unclosed "[" say) is where the user must look
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or str(exc)
        if exc.context_mark and exc.problem_mark and exc.problem_mark.line != exc.context_mark.line:
            problem += f" (noticed at line {exc.problem_mark.line + 1})"
        raise SpecError(f"malformed YAML: {problem}", file=file, line=line) from None
    finally:
        loader.dispose()
    return LocatedYaml(data=data, file=file, lines=lines)


def raise_validation_error(doc: LocatedYaml, exc: ValidationError, *, base: Path_ = ()) -> None:
    """Turn pydantic's first error into a SpecError pointing at the YAML line."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    # discriminated unions add the tag to loc; keep only parts that exist in the document
    path: list[str | int] = list(base)
    for part in loc:
        candidate = (*path, part)
        if candidate in doc.lines or not doc.lines:
            path.append(part)
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = f"unknown field '{loc[-1]}'"
    elif err["type"] == "missing":
        message = f"missing required field '{loc[-1]}'"
        field_path = (*base, *loc)
        raise SpecError(
            message,
            file=doc.file,
            line=doc.line_of(tuple(path)),
            field=".".join(str(p) for p in field_path),
        ) from None
    raise doc.error(tuple(path) if path else (*base, *loc), message) from None
