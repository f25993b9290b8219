"""Model specs: ``provider:model[@base_url]``, fallback chains ``spec|spec``."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel

from botarmy_nb.errors import ModelSpecError

__all__ = ["ModelSpec", "parse_model_chain", "parse_model_spec", "public_url", "shown"]

_SPEC = re.compile(r"^(?P<provider>[a-z][a-z0-9_.-]*)(?::(?P<model>[^@\s|]+))?(?:@(?P<url>\S+))?$")
# query parameters that carry credentials (api_key, key, token, sig, X-Amz-Signature…)
_SECRET_PARAM = re.compile(r"key|token|secret|pass|pwd|auth|sig|credential", re.I)


class ModelSpec(BaseModel, frozen=True):
    provider: str
    model: str
    base_url: str | None = None

    def __str__(self) -> str:
        text = f"{self.provider}:{self.model}"
        return f"{text}@{self.base_url}" if self.base_url else text


def _masked(url: str) -> str:
    if "@" in url:  # user:password@host, in whatever form: keep only the host on
        url = "***@" + url.rpartition("@")[2]
    if "?" in url:
        url = url.partition("?")[0] + "?***"
    return url


def shown(text: str, *, url: bool = False) -> str:
    """A spec (or with ``url``, a base URL) as an error message may quote it: whatever
    its URL part could hide is masked.

    >>> shown("openai:gpt@https://me:pw@host/v1?api_key=k")
    "'openai:gpt@***@host/v1?***'"
    """
    from botarmy_nb.log import redact

    if url:
        return repr(redact(_masked(text)))
    head, at, rest = text.partition("@")
    return repr(redact(head + at + _masked(rest)))


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: fit to be stored and shown."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:  # an IPv6 address goes back into brackets
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else host + parts.path


def _check_url(url: str, option: str) -> None:
    """Refuse a base URL that is not plain http(s) or that carries credentials anywhere."""
    from botarmy_nb.settings import secret_values

    where = f"{option}: the base URL"
    if "@" in url:
        raise ModelSpecError(
            f"{where} carries credentials (user:password@); put the key in the provider's "
            "variable instead (URLs are stored with the run and shown in notebooks)"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        raise ModelSpecError(f"{where} {shown(url, url=True)} does not parse") from None
    if any(_SECRET_PARAM.search(name) for name, _ in query):
        raise ModelSpecError(
            f"{where} carries a credential in its query string; put the key in the "
            "provider's variable instead (URLs are stored with the run and shown in notebooks)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModelSpecError(
            f"{where} {shown(url, url=True)} needs http:// or https:// and a host, "
            "e.g. http://localhost:11434/v1"
        )
    if any(secret in url for secret in secret_values()):
        raise ModelSpecError(f"{where} contains the value of a configured API key or password")


def parse_model_spec(text: str, *, option: str = "model") -> ModelSpec:
    """Parse one spec; the provider must be registered (see :mod:`botarmy_nb.models.registry`).

    >>> parse_model_spec("openai-compatible:llama3@http://localhost:11434/v1").model
    'llama3'
    """
    from botarmy_nb.models.registry import known_providers

    raw = text.strip()
    match = _SPEC.match(raw)
    if not match:
        raise ModelSpecError(
            f"{option} {shown(text)} does not parse: expected provider:model[@base_url], "
            "e.g. scripted or openai:gpt-4o-mini"
        )
    provider = match["provider"]
    known = known_providers()
    if provider not in known:
        raise ModelSpecError(
            f"{option} {shown(text)}: unknown provider '{provider}'; "
            f"known: {', '.join(sorted(known))}"
        )
    model = match["model"] or known[provider].default_model
    if not model:
        raise ModelSpecError(f"{option} {shown(text)}: provider '{provider}' needs a model name")
    url = match["url"]
    if url:
        _check_url(url, option)
    return ModelSpec(provider=provider, model=model, base_url=url)


def parse_model_chain(text: str, *, option: str = "model") -> list[ModelSpec]:
    """Parse ``spec|spec|...`` into the ordered fallback chain."""
    parts = text.split("|")
    if not text.strip() or any(not p.strip() for p in parts):
        raise ModelSpecError(f"{option} {shown(text)} has an empty spec in its chain")
    return [parse_model_spec(p, option=option) for p in parts]
