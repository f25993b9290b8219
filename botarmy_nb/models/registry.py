"""Provider registry: model spec → AutoGen ChatCompletionClient, extensible by entry points."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from botarmy_nb.errors import ConfigError, ModelSpecError

if TYPE_CHECKING:
    from autogen_core.models import ChatCompletionClient

    from botarmy_nb.models.spec import ModelSpec

__all__ = [
    "AgentContext",
    "Provider",
    "check_provider",
    "create_client",
    "known_providers",
    "register_provider",
]

ENTRY_POINT_GROUP = "botarmy_nb.providers"
# streamed OpenAI-style responses report usage only when asked (DESIGN §5)
_OPENAI_STREAM = {"stream_options": {"include_usage": True}}
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


def _openai_like(
    spec: ModelSpec,
    context: AgentContext,
    *,
    base_url: str | None = None,
) -> ChatCompletionClient:
    from autogen_ext.models.openai import OpenAIChatCompletionClient

    from botarmy_nb.settings import get_settings

    kwargs: dict[str, Any] = {
        "model": spec.model,
        "api_key": _key(spec.provider),
        # our ResilientClient retries and records every attempt; the SDK must not
        "max_retries": 0,
        "timeout": get_settings().model_timeout_s,
    }
    if spec.base_url or base_url:
        kwargs["base_url"] = spec.base_url or base_url
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
    }
    if spec.base_url:
        kwargs["base_url"] = spec.base_url
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
            extra="openai",
            module="autogen_ext.models.openai",
            streams=True,
            stream_args=_OPENAI_STREAM,
        )
    )
    register_provider(
        Provider(
            "gemini",
            functools.partial(
                _openai_like, base_url="https://generativelanguage.googleapis.com/v1beta/openai/"
            ),
            key_variable="GEMINI_API_KEY",
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
            extra="anthropic",
            module="autogen_ext.models.anthropic",
            streams=True,
        )
    )
