"""Model backends by provider name, through an immutable registry of lazily imported factories.

A ``ModelSpec`` is ``provider:model[@base_url]`` (``openai:gpt-4o``,
``openai:qwen@http://127.0.0.1:8000/v1``, ``gemini:gemini-2.0-flash``, ``hf:/path``,
``llamacpp:smollm2``). Spec strings, legacy names and the seats that need no model (scripted,
human) are parsed in ``negotiation.agents.specs``. A provider's SDK is imported only when that
provider is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import MappingProxyType

from negotiation.backends.base import Backend
from negotiation.core.errors import ConfigError

PROVIDERS: MappingProxyType[str, str] = MappingProxyType({
    "openai": "negotiation.backends.openai_backend:create",
    "azure": "negotiation.backends.openai_backend:create_azure",
    "gemini": "negotiation.backends.gemini_backend:create",
    "hf": "negotiation.backends.hf_backend:create",
    "llamacpp": "negotiation.backends.llamacpp_backend:create",
})


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: provider (or seat kind), model and optional base URL."""

    provider: str
    model: str
    base_url: str | None = None

    def __str__(self) -> str:
        suffix = f"@{self.base_url}" if self.base_url else ""
        return f"{self.provider}:{self.model}{suffix}"


def create_backend(spec: ModelSpec, *, base_url: str | None = None) -> Backend:
    """Instantiate the provider named by ``spec``, wrapped with retry, timeout and limits."""
    from negotiation.backends.wrappers import wrap

    if spec.provider not in PROVIDERS:
        raise ConfigError(f"{spec} is not a model backend (providers: {', '.join(PROVIDERS)})")
    module_name, _, attr = PROVIDERS[spec.provider].partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    backend: Backend = factory(spec.model, base_url=spec.base_url or base_url)
    backend.spec = str(spec)
    return wrap(backend)
