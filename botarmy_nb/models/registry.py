"""Provider registry: model spec → AutoGen ChatCompletionClient, extensible by entry points."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError, ModelSpecError

if TYPE_CHECKING:
    import httpx
    from autogen_core.models import ChatCompletionClient

    from botarmy_nb.models.spec import ModelSpec

__all__ = [
    "AgentContext",
    "BadReply",
    "Provider",
    "check_http_reply",
    "check_provider",
    "create_client",
    "effective_spec",
    "key_variables",
    "known_providers",
    "register_provider",
]

ENTRY_POINT_GROUP = "botarmy_nb.providers"
# streamed OpenAI-style responses report usage only when asked (DESIGN §5)
_OPENAI_STREAM = {"stream_options": {"include_usage": True}}
_BASIC_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": False,
    "family": "unknown",
    "structured_output": False,
}


@dataclass(frozen=True)
class AgentContext:
    """What a provider may know about the agent it serves (the scripted model uses it)."""

    agent: str
    role: str = ""
    instructions: str = ""
    stop_word: str | None = None
    ends_conversation: bool = False
    participants: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """A named way to build model clients. ``streams``: the live view gets token chunks."""

    name: str
    factory: Callable[[ModelSpec, AgentContext], ChatCompletionClient]
    default_model: str = ""
    key_variable: str | None = None
    optional_key_variable: str | None = None  # used when set (e.g. a local server's key)
    extra: str | None = None  # the pip extra that brings the provider's package
    module: str | None = None  # imported to check that the package is installed
    needs_base_url: bool = False
    streams: bool = False
    stream_args: dict[str, Any] | None = None  # extra create args when streaming
    description: str = ""
    base_url_variable: str | None = None  # where the SDK finds a base URL (OPENAI_BASE_URL)
    default_base_url: str | None = None  # used when neither the spec nor the variable gives one


_REGISTRY: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Add or replace a provider (third parties: entry-point group ``botarmy_nb.providers``,
    whose entry points name a Provider or a callable returning one)."""
    _REGISTRY[provider.name] = provider


@functools.cache
def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        provider = ep.load()
        register_provider(provider() if callable(provider) else provider)


def known_providers() -> dict[str, Provider]:
    _load_builtin()
    _load_entry_points()
    return dict(_REGISTRY)


def key_variables() -> list[str]:
    """The key variables of every provider registered so far (for redaction)."""
    names = (v for p in _REGISTRY.values() for v in (p.key_variable, p.optional_key_variable))
    return [name for name in names if name]


def _base_url(spec: ModelSpec) -> str | None:
    """The URL a client for ``spec`` talks to, unless it is the provider's own default."""
    from botarmy_nb.settings import provider_key

    provider = known_providers().get(spec.provider)
    if spec.base_url or provider is None or not provider.base_url_variable:
        return spec.base_url
    return provider_key(provider.base_url_variable)


def effective_spec(spec: ModelSpec) -> ModelSpec:
    """``spec`` with the base URL in force (e.g. from OPENAI_BASE_URL), credentials removed:
    the label recorded with the run's messages and model calls. A provider's built-in
    default URL is left out: ``openai:gpt-4o`` stays ``openai:gpt-4o`` unless
    OPENAI_BASE_URL points elsewhere.
    """
    from botarmy_nb.models.spec import public_url

    url = _base_url(spec)
    return spec.model_copy(update={"base_url": public_url(url) if url else None})


class BadReply(Exception):
    """A 200 reply that is not what was asked: an HTML page, an error body, no answer.

    Raised inside a provider call (the SDKs wrap it as a connection error); the resilient
    client counts the attempt as failed, with this message as the reason.
    """


def _snippet(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


async def check_http_reply(response: httpx.Response) -> None:
    """An httpx response hook: a 200 must be an event stream or a JSON model reply."""
    if response.status_code != 200:
        return  # the SDK turns other statuses into its own errors
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "text/event-stream":
        return  # a stream is judged by the result it builds
    body = await response.aread()
    if not body.strip():
        raise BadReply("HTTP 200 with an empty body")
    if "json" not in ctype:
        kind = ctype or "no content type"
        raise BadReply(f"HTTP 200 with {kind}, not a model reply: {_snippet(body)}")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise BadReply(f"HTTP 200 with cut-off or invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadReply(f"HTTP 200 with JSON that is not a model reply: {_snippet(body)}")
    if data.get("error"):
        error = data["error"]
        detail = error.get("message", error) if isinstance(error, dict) else error
        raise BadReply(f"HTTP 200 carrying an error: {str(detail)[:200]}")
    if "choices" in data and not data["choices"]:
        raise BadReply("HTTP 200 with no choices")


@functools.cache
def _ssl_context() -> Any:
    """One TLS context per process: loading the CA bundle costs ~80 ms, and every agent of
    every run builds a client (contexts are safe to share; clients are loop-bound)."""
    import ssl

    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _http_client(sdk: str) -> Any:
    """The SDK's own default httpx client, with :func:`check_http_reply` on every response."""
    if sdk == "anthropic":
        from anthropic import DefaultAsyncHttpxClient
    else:
        from openai import DefaultAsyncHttpxClient
    return DefaultAsyncHttpxClient(
        verify=_ssl_context(), event_hooks={"response": [check_http_reply]}
    )


def check_provider(spec: ModelSpec) -> Provider:
    """Fail now, before a run starts, if ``spec`` cannot work: key, package, base URL."""
    from botarmy_nb.settings import provider_key

    providers = known_providers()
    if spec.provider not in providers:
        raise ModelSpecError(
            f"unknown provider '{spec.provider}'; known: " + ", ".join(sorted(providers))
        )
    provider = providers[spec.provider]
    if provider.needs_base_url and not spec.base_url:
        raise ModelSpecError(
            f"model {spec}: {spec.provider} needs @base_url, "
            "e.g. openai-compatible:llama3@http://localhost:11434/v1"
        )
    if provider.key_variable and not provider_key(provider.key_variable):
        raise ConfigError(
            f"provider '{spec.provider}' needs an API key: set {provider.key_variable}"
        )
    if provider.module:
        try:
            __import__(provider.module)
        except ImportError:
            raise ConfigError(
                f"provider '{spec.provider}' needs its package: "
                f"pip install 'botarmy-nb[{provider.extra}]'"
            ) from None
    if spec.provider == "replay":
        from botarmy_nb.models.cassette import load_cassette

        load_cassette(spec.model)
    return provider


def create_client(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    """A fresh client for one agent of one run (clients are bound to the run's event loop)."""
    provider = check_provider(spec)
    return provider.factory(spec, context)


def _key(provider: str) -> str:
    from botarmy_nb.settings import provider_key

    spec = known_providers()[provider]
    variable = spec.key_variable or spec.optional_key_variable
    return (provider_key(variable) if variable else None) or "not-needed"


def _scripted(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    from botarmy_nb.models.scripted import ScriptedChatCompletionClient

    return ScriptedChatCompletionClient(context)


def _replay(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    from botarmy_nb.models.cassette import ReplayClient

    return ReplayClient(spec.model, context.agent)


def _openai_like(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from botarmy_nb.settings import get_settings

    kwargs: dict[str, Any] = {
        "model": spec.model,
        "api_key": _key(spec.provider),
        # our ResilientClient retries and records every attempt; the SDK must not
        "max_retries": 0,
        "timeout": get_settings().model_timeout_s,
        "http_client": _http_client("openai"),
    }
    # the URL we record is the URL we use: pass it rather than let the SDK read the env
    url = _base_url(spec) or known_providers()[spec.provider].default_base_url
    if url:
        kwargs["base_url"] = url
    if spec.provider != "openai" or spec.base_url:
        kwargs["model_info"] = dict(_BASIC_INFO)
    return OpenAIChatCompletionClient(**kwargs)


def _anthropic(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    from autogen_ext.models.anthropic import AnthropicChatCompletionClient

    from botarmy_nb.settings import get_settings

    kwargs: dict[str, Any] = {
        "model": spec.model,
        "api_key": _key("anthropic"),
        "max_retries": 0,
        "timeout": get_settings().model_timeout_s,
        "max_tokens": 4096,
        "http_client": _http_client("anthropic"),
    }
    url = _base_url(spec)
    if url:
        kwargs["base_url"] = url
    if spec.base_url:
        kwargs["model_info"] = dict(_BASIC_INFO)
    return AnthropicChatCompletionClient(**kwargs)


@functools.cache
def _load_builtin() -> None:
    register_provider(
        Provider(
            "scripted",
            _scripted,
            default_model="scripted",
            description="offline, deterministic replies (not a real LLM)",
        )
    )
    register_provider(
        Provider(
            "replay",
            _replay,
            description="answers recorded in a cassette (replay:FILE)",
        )
    )
    register_provider(
        Provider(
            "openai",
            _openai_like,
            key_variable="OPENAI_API_KEY",
            base_url_variable="OPENAI_BASE_URL",
            extra="openai",
            module="autogen_ext.models.openai",
            streams=True,
            stream_args=_OPENAI_STREAM,
        )
    )
    register_provider(
        Provider(
            "gemini",
            _openai_like,
            key_variable="GEMINI_API_KEY",
            default_base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
            extra="gemini",
            module="autogen_ext.models.openai",
            streams=True,
            stream_args=_OPENAI_STREAM,
            description="Gemini through its OpenAI-compatible endpoint",
        )
    )
    register_provider(
        Provider(
            "openai-compatible",
            _openai_like,
            optional_key_variable="OPENAI_COMPATIBLE_API_KEY",
            extra="openai",
            module="autogen_ext.models.openai",
            needs_base_url=True,
            streams=True,
            stream_args=_OPENAI_STREAM,
            description="Ollama, vLLM, llama.cpp server (needs @base_url)",
        )
    )
    register_provider(
        Provider(
            "anthropic",
            _anthropic,
            key_variable="ANTHROPIC_API_KEY",
            base_url_variable="ANTHROPIC_BASE_URL",
            extra="anthropic",
            module="autogen_ext.models.anthropic",
            streams=True,
        )
    )
