"""Structured turns as a condition of a run: which mode each seat gets, and what it constrains.

``--structured off|grammar|json|auto`` is resolved per seat from its model spec: ``auto`` (the
default) gives grammar-constrained decoding to local models (llama.cpp, transformers) and
leaves hosted models free (paper-faithful); ``grammar`` and ``json`` apply to every model seat
and are refused, before any call, for a provider that cannot honour them. Scripted and human
seats answer in structure already and are recorded as ``off``. ``--deal-space own`` (an
ablation, off by default) restricts a constrained seat's deals to those clearing its own
minimum, so the paper's wrong-deal failure cannot happen for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from negotiation.agents.specs import EXTERNAL_KINDS, SEAT_KINDS, parse_spec
from negotiation.backends.base import Constraint, StructuredMode
from negotiation.core.deal_space import MAX_DEALS, all_scores
from negotiation.core.errors import ConfigError
from negotiation.core.game import Deal, Party, Scoring
from negotiation.core.rules import accepts
from negotiation.protocol.turn_schema import MODES, TurnSchema

OFF = "off"
PROVIDER_MODES: MappingProxyType[str, tuple[StructuredMode, ...]] = MappingProxyType({
    "llamacpp": ("grammar",), "hf": ("grammar",), "openai": ("grammar", "json"),
    "azure": ("json",), "gemini": ("json",)})
"""The constraint modes each model provider takes (the backends declare the same)."""
AUTO: Mapping[str, str] = MappingProxyType({"llamacpp": "grammar", "hf": "grammar"})
"""What ``auto`` gives each provider (any other: off)."""
DEAL_SPACES: tuple[str, ...] = ("all", "own")


def resolve_mode(requested: str, model: str) -> str:
    """The mode of one seat: ``off``, ``grammar`` or ``json`` (``ConfigError`` when the
    seat's provider cannot honour an explicit request)."""
    if requested not in MODES:
        raise ConfigError(f"--structured must be one of {', '.join(MODES)}, got {requested!r}")
    spec = parse_spec(model)
    if spec.provider in SEAT_KINDS or spec.provider in EXTERNAL_KINDS or requested == OFF:
        return OFF
    if requested == "auto":
        return AUTO.get(spec.provider, OFF)
    supported = PROVIDER_MODES.get(spec.provider, ())
    if requested not in supported:
        modes = ", ".join(("off", *supported))
        raise ConfigError(f"--structured {requested}: the {spec.provider} backend ({spec}) "
                          f"supports {modes}")
    return requested


def own_deals(scoring: Scoring, party: Party) -> tuple[Deal, ...]:
    """Every deal that clears ``party``'s own minimum (``--deal-space own``)."""
    if scoring.n_deals() > MAX_DEALS:
        raise ConfigError(f"--deal-space own enumerates the deals; {scoring.name} has "
                          f"{scoring.n_deals():,}, more than {MAX_DEALS:,}")
    idx, _ = all_scores(scoring)
    deals = (Deal(tuple(int(k) + 1 for k in row)) for row in idx)
    return tuple(d for d in deals if accepts(d, party))


def constraint_of(schema: TurnSchema, mode: str) -> Constraint:
    """A turn schema in the form backends take."""
    if mode not in ("grammar", "json"):
        raise ValueError(f"a constraint is grammar or json, not {mode!r}")
    return Constraint(mode=mode, key=f"{mode}:{schema.key}", gbnf=schema.gbnf(),  # type: ignore[arg-type]
                      json_schema=schema.json_schema(), name=f"negotiation_{schema.kind.value}")
