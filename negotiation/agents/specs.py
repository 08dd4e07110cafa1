"""Model spec strings: which seat (and which model) plays a party.

A spec is ``kind:name[@base_url]``: a model backend (``openai:gpt-4o``, ``llamacpp:smollm2``,
see ``negotiation.backends.registry``), a seat that needs no model (``scripted:<policy>``,
``human:terminal``) or a model that inspect_ai called (``inspect:provider/model``, in logs
only). The names of the paper's config files (``gpt-4-low``, ``hf_<name>``,
``gemini-1.0-pro-001``) and ``default`` (the embedded local model) are mapped to specs first.
"""

from __future__ import annotations

from negotiation.backends.registry import PROVIDERS, ModelSpec
from negotiation.core.errors import ConfigError

DEFAULT_SPEC = "llamacpp:smollm2"
SEAT_KINDS: tuple[str, ...] = ("scripted", "human")
"""Seats that decide without a model backend."""
EXTERNAL_KINDS: tuple[str, ...] = ("inspect",)
"""Seats played by something outside this harness: ``inspect:provider/model`` is a model that
inspect_ai called (``negotiation_inspect``); such specs appear in logs, and ``main.py`` cannot
seat them."""
KINDS: tuple[str, ...] = (*PROVIDERS, *SEAT_KINDS, *EXTERNAL_KINDS)
ORACLE_POLICIES: frozenset[str] = frozenset({"oracle"})
"""Scripted policies that see every party's score sheet (labelled "oracle" in leaderboards)."""


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
                      f"(kinds: {', '.join(KINDS)})")


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec or legacy name; ``model@http…`` sets a base URL."""
    spec = legacy_to_spec(text)
    provider, _, rest = spec.partition(":")
    if provider not in KINDS:
        raise ConfigError(f"unknown provider {provider!r} in model spec {text!r} "
                          f"(known: {', '.join(KINDS)})")
    model, base_url = rest, None
    if "@http" in rest:
        model, _, tail = rest.partition("@http")
        base_url = "http" + tail
    if not model:
        raise ConfigError(f"model spec {text!r} names no model")
    return ModelSpec(provider, model, base_url)


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a spec that must name a model backend (annotators, judges)."""
    spec = parse_spec(text)
    if spec.provider not in PROVIDERS:
        raise ConfigError(f"{spec.provider}: seats cannot annotate or judge: {text!r} is not a "
                          f"model (use one of: {', '.join(PROVIDERS)})")
    return spec


def is_oracle(spec: str) -> bool:
    """Whether a seat spec sees every party's sheet (a calibration baseline, not a player)."""
    kind, _, name = spec.partition(":")
    return kind == "scripted" and name in ORACLE_POLICIES


def seat_label(spec: str) -> str:
    """How leaderboards and reports name a seat: the spec, marked when it is an oracle."""
    return f"{spec} (oracle)" if is_oracle(spec) else spec
