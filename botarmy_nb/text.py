"""Text every database, file and wire accepts: no NUL bytes, no lone surrogates."""

from __future__ import annotations

from typing import Any

__all__ = ["storable", "storable_tree"]

_REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD (a model reply may hold
    either; PostgreSQL refuses NUL and no UTF-8 codec writes a lone surrogate)."""
    if "\x00" in text:
        text = text.replace("\x00", _REPLACEMENT)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def storable_tree(value: Any) -> Any:
    """:func:`storable` applied to every string in nested lists and dicts."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable_tree(k): storable_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable_tree(v) for v in value]
    return value
