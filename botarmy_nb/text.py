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
    """:func:`storable` applied to every string in nested lists and dicts (the same object
    back when nothing needed a change: this runs for every stored event)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        out = None
        for key, item in value.items():
            clean = storable_tree(item)
            if clean is not item or (isinstance(key, str) and storable(key) is not key):
                out = out if out is not None else dict(value)
                out.pop(key)
                out[storable_tree(key)] = clean
        return value if out is None else out
    if isinstance(value, list | tuple):
        cleaned = [storable_tree(v) for v in value]
        if all(a is b for a, b in zip(cleaned, value, strict=True)):
            return value
        return cleaned
    return value
