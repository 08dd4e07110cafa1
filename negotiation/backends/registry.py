"""Model spec strings -> backends, through an immutable registry of lazily imported factories.

A spec is ``provider:model`` (``openai:gpt-4o``, ``openai:qwen@http://127.0.0.1:8000/v1``,
``gemini:gemini-2.0-flash``, ``hf:/path``, ``llamacpp:smollm2``, ``scripted:rational``). The
names of the paper's config files (``gpt-4-low``, ``hf_<name>``, ``gemini-1.0-pro-001``) and
``default`` (the embedded local model) are mapped to specs first. A provider's SDK is imported
only when that provider is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import MappingProxyType

from negotiation.backends.base import Backend
from negotiation.core.errors import ConfigError
from negotiation.core.game import Scoring

DEFAULT_SPEC = "llamacpp:smollm2"

PROVIDERS: MappingProxyType[str, str] = MappingProxyType({
    "openai": "negotiation.backends.openai_backend:create",
    "azure": "negotiation.backends.openai_backend:create_azure",
    "gemini": "negotiation.backends.gemini_backend:create",
    "hf": "negotiation.backends.hf_backend:create",
    "llamacpp": "negotiation.backends.llamacpp_backend:create",
    "scripted": "negotiation.agents.scripted:create",
    "human": "negotiation.agents.human:create",
})


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: provider, model and optional base URL."""

    provider: str
    model: str
    base_url: str | None = None

    def __str__(self) -> str:
        suffix = f"@{self.base_url}" if self.base_url else ""
        return f"{self.provider}:{self.model}{suffix}"


def legacy_to_spec(name: str) -> str:
    """Map a config.txt model name to a spec (``gpt-4-low`` -> ``openai:gpt-4``, …)."""
    name = name.strip()
    if name in ("", "default"):
        return DEFAULT_SPEC
    if name == "human":
        return "human:terminal"
    if ":" in name.split("@", 1)[0]:
        return name
    if name.startswith(("gpt-4", "gpt-3.5")):
        return "openai:" + name.removesuffix("-low")
    if name.startswith("hf_"):
        return "hf:" + name[3:]
    if name.startswith("gemini-"):
        return "gemini:" + name
    raise ConfigError(f"unknown model {name!r}: use a spec such as openai:MODEL, gemini:MODEL, "
                      f"hf:PATH, llamacpp:PATH_OR_ALIAS or scripted:POLICY "
                      f"(providers: {', '.join(PROVIDERS)})")


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec or legacy name; ``model@http…`` sets a base URL."""
    spec = legacy_to_spec(text)
    provider, _, rest = spec.partition(":")
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r} in model spec {text!r} "
                          f"(known: {', '.join(PROVIDERS)})")
    model, base_url = rest, None
    if "@http" in rest:
        model, _, tail = rest.partition("@http")
        base_url = "http" + tail
    if not model:
        raise ConfigError(f"model spec {text!r} names no model")
    return ModelSpec(provider, model, base_url)


def create_backend(spec: ModelSpec, *, base_url: str | None = None,
                   scoring: Scoring | None = None, party: str | None = None) -> Backend:
    """Instantiate the provider named by ``spec``, wrapped with retry, timeout and limits.

    ``scoring`` and ``party`` are given to scripted negotiators, which read their own sheet.
    """
    from negotiation.backends.wrappers import wrap

    module_name, _, attr = PROVIDERS[spec.provider].partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    url = spec.base_url or base_url
    if spec.provider == "scripted":
        if scoring is None or party is None:
            raise ConfigError("scripted models need the game and the party they play")
        backend: Backend = factory(spec.model, scoring=scoring, party=party)
    else:
        backend = factory(spec.model, base_url=url)
    backend.spec = str(spec)
    return wrap(backend)
