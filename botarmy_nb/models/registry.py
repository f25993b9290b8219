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

__all__ = ["AgentContext", "Provider", "create_client", "known_providers", "register_provider"]

ENTRY_POINT_GROUP = "botarmy_nb.providers"


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
    name: str
    factory: Callable[[ModelSpec, AgentContext], ChatCompletionClient]
    default_model: str = ""
    key_variable: str | None = None
    extra: str | None = None  # pip extra that brings the provider's package
    description: str = ""


_REGISTRY: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Add or replace a provider (third parties: entry-point group ``botarmy_nb.providers``)."""
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


def create_client(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    """A fresh client for one agent of one run (clients are bound to the run's event loop)."""
    providers = known_providers()
    if spec.provider not in providers:
        raise ModelSpecError(f"unknown provider '{spec.provider}'; known: {', '.join(providers)}")
    return providers[spec.provider].factory(spec, context)


def _scripted(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    from botarmy_nb.models.scripted import ScriptedChatCompletionClient

    return ScriptedChatCompletionClient(context)


def _openai_like(
    spec: ModelSpec,
    context: AgentContext,
    *,
    key_variable: str | None,
    base_url: str | None,
    extra: str,
) -> ChatCompletionClient:
    from botarmy_nb.settings import provider_key

    key = provider_key(key_variable) if key_variable else "not-needed"
    if not key or set(key) == {"*"}:  # AutoGen's dumped configs hold "**********"
        raise ConfigError(f"provider '{spec.provider}' needs an API key: set {key_variable}")
    try:
        from autogen_ext.models.openai import OpenAIChatCompletionClient
    except ImportError:
        raise ConfigError(
            f"provider '{spec.provider}' needs its package: pip install 'botarmy-nb[{extra}]'"
        ) from None
    kwargs: dict[str, Any] = {"model": spec.model, "api_key": key}
    url = spec.base_url or base_url
    if url:
        kwargs["base_url"] = url
    if spec.provider in ("openai-compatible", "gemini"):
        kwargs["model_info"] = {
            "vision": False,
            "function_calling": True,
            "json_output": False,
            "family": "unknown",
            "structured_output": False,
        }
    return OpenAIChatCompletionClient(**kwargs)


def _openai_compatible(spec: ModelSpec, context: AgentContext) -> ChatCompletionClient:
    if not spec.base_url:
        raise ModelSpecError(
            f"model {spec}: openai-compatible needs @base_url, "
            "e.g. openai-compatible:llama3@http://localhost:11434/v1"
        )
    return _openai_like(spec, context, key_variable=None, base_url=None, extra="openai")


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
            "openai",
            functools.partial(
                _openai_like, key_variable="OPENAI_API_KEY", base_url=None, extra="openai"
            ),
            key_variable="OPENAI_API_KEY",
            extra="openai",
        )
    )
    register_provider(
        Provider(
            "gemini",
            functools.partial(
                _openai_like,
                key_variable="GEMINI_API_KEY",
                extra="gemini",
                base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
            ),
            key_variable="GEMINI_API_KEY",
            extra="gemini",
        )
    )
    register_provider(
        Provider(
            "openai-compatible",
            _openai_compatible,
            extra="openai",
            description="Ollama, vLLM, llama.cpp server (needs @base_url)",
        )
    )
