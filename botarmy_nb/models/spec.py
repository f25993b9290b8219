"""Model specs: ``provider:model[@base_url]``, fallback chains ``spec|spec``."""

from __future__ import annotations

import re

from pydantic import BaseModel

from botarmy_nb.errors import ModelSpecError

__all__ = ["ModelSpec", "parse_model_chain", "parse_model_spec"]

_SPEC = re.compile(r"^(?P<provider>[a-z][a-z0-9_.-]*)(?::(?P<model>[^@\s|]+))?(?:@(?P<url>\S+))?$")


class ModelSpec(BaseModel, frozen=True):
    provider: str
    model: str
    base_url: str | None = None

    def __str__(self) -> str:
        text = f"{self.provider}:{self.model}"
        return f"{text}@{self.base_url}" if self.base_url else text


def parse_model_spec(text: str, *, option: str = "model") -> ModelSpec:
    """Parse one spec; the provider must be registered (see :mod:`botarmy_nb.models.registry`)."""
    from botarmy_nb.models.registry import known_providers

    raw = text.strip()
    match = _SPEC.match(raw)
    if not match:
        raise ModelSpecError(
            f"{option} {text!r} does not parse: expected provider:model[@base_url], "
            "e.g. scripted or openai:gpt-4o-mini"
        )
    provider = match["provider"]
    known = known_providers()
    if provider not in known:
        raise ModelSpecError(
            f"{option} {text!r}: unknown provider '{provider}'; known: {', '.join(sorted(known))}"
        )
    model = match["model"] or known[provider].default_model
    if not model:
        raise ModelSpecError(f"{option} {text!r}: provider '{provider}' needs a model name")
    url = match["url"]
    if url and re.match(r"^[a-z][a-z0-9+.-]*://[^/@]*@", url, re.I):
        raise ModelSpecError(
            f"{option}: the base URL carries credentials; put the key in the provider's "
            "variable instead (URLs are stored with the run and shown in notebooks)"
        )
    return ModelSpec(provider=provider, model=model, base_url=url)


def parse_model_chain(text: str, *, option: str = "model") -> list[ModelSpec]:
    """Parse ``spec|spec|...`` into the ordered fallback chain."""
    parts = [p for p in text.split("|")]
    if not text.strip() or any(not p.strip() for p in parts):
        raise ModelSpecError(f"{option} {text!r} has an empty spec in its chain")
    return [parse_model_spec(p, option=option) for p in parts]
