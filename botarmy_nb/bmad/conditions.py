"""A small, safe condition language for templates and workflows (no eval, no Jinja).

    has_ui
    project_type == "web" and not legacy
    project_type in ["web", "fullstack"] or epic_count >= 3
    prd.md                      # true once the artifact exists

Names are looked up in the run's variables, then among its artifacts (present → true);
an unknown name is null (false). Text that is prose ("The project has a UI") is not an
expression: the owning agent decides it at run time and the decision is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from botarmy_nb.errors import ConfigError

__all__ = ["Condition", "ConditionSyntaxError", "parse_condition"]

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>"[^"]*"|'[^']*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    | (?P<name>[A-Za-z_][\w.\-]*)
    )""",
    re.X,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null", "True", "False", "None"}
MAX_NESTING = 32  # brackets and "not"s inside each other; real conditions use two or three
_EXPRESSION_HINT = re.compile(r"==|!=|<=|>=|[<>()\[\]\"']|\b(and|or|not|in)\b")


class ConditionSyntaxError(ConfigError):
    """A condition that looks like an expression but does not parse."""


@dataclass(frozen=True)
class Condition:
    text: str
    tree: Any = None  # None: prose, decided by an agent

    @property
    def is_prose(self) -> bool:
        return self.tree is None

    @property
    def names(self) -> list[str]:
        """The variables the expression reads (empty for prose)."""
        found: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, tuple) and node and node[0] == "var":
                found.append(node[1])
            elif isinstance(node, tuple | list):
                for child in node[1:] if isinstance(node, tuple) else node:
                    walk(child)

        walk(self.tree)
        return list(dict.fromkeys(found))

    def evaluate(
        self, variables: Mapping[str, Any], artifacts: Collection[str] = ()
    ) -> bool | None:
        """True/False for an expression; None for prose (an agent must decide)."""
        if self.tree is None:
            return None
        return bool(_eval(self.tree, variables, artifacts))


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ConditionSyntaxError(f"condition {text!r}: unexpected {text[pos:].strip()!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "name" and value in _KEYWORDS:
            kind = "keyword"
        out.append((kind, value))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent; ``and``/``or`` chains are flat lists, so only nesting recurses."""

    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i, self.depth = text, _tokens(text), 0, 0

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ConditionSyntaxError(
                f"condition {self.text[:80]!r}: nested more than {MAX_NESTING} levels deep"
            )

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            want = f"'{value}'" if value else "more"
            raise ConditionSyntaxError(f"condition {self.text!r}: expected {want}")
        self.i += 1
        return token

    def parse(self) -> Any:
        tree = self.or_()
        if self.peek() is not None:
            raise ConditionSyntaxError(f"condition {self.text!r}: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return tree

    def or_(self) -> Any:
        terms = [self.and_()]
        while self.peek() == ("keyword", "or"):
            self.take()
            terms.append(self.and_())
        return ("or", *terms) if len(terms) > 1 else terms[0]

    def and_(self) -> Any:
        terms = [self.not_()]
        while self.peek() == ("keyword", "and"):
            self.take()
            terms.append(self.not_())
        return ("and", *terms) if len(terms) > 1 else terms[0]

    def not_(self) -> Any:
        if self.peek() == ("keyword", "not"):
            self.take()
            self.nest()
            tree = ("not", self.not_())
            self.depth -= 1
            return tree
        return self.compare()

    def compare(self) -> Any:
        left = self.atom()
        token = self.peek()
        if token and token[1] in ("==", "!=", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", token[1], left, self.atom())
        if token == ("keyword", "in"):
            self.take()
            return ("in", left, self.atom())
        if (
            token == ("keyword", "not")
            and self.i + 1 < len(self.tokens)
            and self.tokens[self.i + 1] == ("keyword", "in")
        ):
            self.take()
            self.take()
            return ("not", ("in", left, self.atom()))
        return left

    def atom(self) -> Any:
        kind, value = self.take()
        if kind == "number":
            try:
                return ("lit", float(value) if "." in value else int(value))
            except ValueError:  # more digits than int() converts
                raise ConditionSyntaxError(
                    f"condition {self.text[:80]!r}: the number {value[:20]}… is too long"
                ) from None
        if kind == "string":
            return ("lit", value[1:-1])
        if kind == "keyword" and value in ("true", "True"):
            return ("lit", True)
        if kind == "keyword" and value in ("false", "False"):
            return ("lit", False)
        if kind == "keyword" and value in ("null", "None"):
            return ("lit", None)
        if kind == "name":
            return ("var", value)
        if value == "(":
            self.nest()
            tree = self.or_()
            self.take(")")
            self.depth -= 1
            return tree
        if value == "[":
            self.nest()
            items = []
            while self.peek() and self.peek()[1] != "]":  # type: ignore[index]
                items.append(self.atom())
                if self.peek() and self.peek()[1] == ",":  # type: ignore[index]
                    self.take()
            self.take("]")
            self.depth -= 1
            return ("list", items)
        raise ConditionSyntaxError(f"condition {self.text!r}: unexpected {value!r}")


def _number(value: Any) -> Any:
    """--var values arrive as text: "5" compares as the number 5."""
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


def _eval(tree: Any, variables: Mapping[str, Any], artifacts: Collection[str]) -> Any:
    op = tree[0]
    if op == "lit":
        return tree[1]
    if op == "var":
        name = tree[1]
        if name in variables:
            value = variables[name]
            # --var values are text: "false" must not be true
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            return value
        return True if name in artifacts else None
    if op == "list":
        return [_eval(t, variables, artifacts) for t in tree[1]]
    if op == "not":
        return not _eval(tree[1], variables, artifacts)
    if op == "and":
        return all(_eval(term, variables, artifacts) for term in tree[1:])
    if op == "or":
        return any(_eval(term, variables, artifacts) for term in tree[1:])
    if op == "in":
        container = _eval(tree[2], variables, artifacts)
        item = _eval(tree[1], variables, artifacts)
        try:
            return container is not None and item in container
        except TypeError:  # e.g. null in "text"
            return False
    left = _number(_eval(tree[2], variables, artifacts))
    right = _number(_eval(tree[3], variables, artifacts))
    if tree[1] in ("==", "!="):
        same = left == right or (left is not None and right is not None and str(left) == str(right))
        return same if tree[1] == "==" else not same
    try:
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,  # type: ignore[operator]
            ">=": left >= right,
        }[tree[1]]  # type: ignore[operator]
    except TypeError:
        return False


def parse_condition(text: str) -> Condition:
    """Parse an expression; prose (several words, no operators) is kept for an agent."""
    text = str(text).strip()
    if not text:
        raise ConditionSyntaxError("an empty condition")
    words = text.split()
    looks_like_expression = bool(_EXPRESSION_HINT.search(text)) or len(words) == 1
    if not looks_like_expression:
        return Condition(text=text, tree=None)
    try:
        return Condition(text=text, tree=_Parser(text).parse())
    except ConditionSyntaxError:
        prose = (
            len(words) >= 3
            and not any("_" in w for w in words)
            and not re.search(r"==|!=|<=|>=|[()\[\]\"']", text)
        )
        if prose:  # "the team is in scope and ready": prose that happens to say "in"/"and"
            return Condition(text=text, tree=None)
        raise
