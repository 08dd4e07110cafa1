"""Seats for a session: which seat plays each party and helper role, from the log's specs.

``scripted:<policy>`` and ``human:<name>`` seats decide without a model; any other spec is a
model backend (``negotiation.backends.registry``) played by an ``LLMSeat``. Backends with the
same spec and base URL are shared by every seat (and every session) given the same
``SeatResources``; the caller may wrap each new backend (provider gates, the response cache)
and closes them at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

from negotiation.agents.human import HumanSeat, Terminal
from negotiation.agents.llm import LLMSeat
from negotiation.agents.oracle import OracleSeat
from negotiation.agents.planner import PlannerSeat
from negotiation.agents.scripted import POLICIES, ScriptedHelper, ScriptedSeat
from negotiation.agents.specs import EXTERNAL_KINDS, parse_spec
from negotiation.agents.structured import OFF, own_deals
from negotiation.backends.base import Backend, GenerateConfig
from negotiation.backends.registry import ModelSpec, create_backend
from negotiation.core.errors import ConfigError
from negotiation.core.game import Game
from negotiation.core.phases import HelperRole
from negotiation.logs.records import PartyRecord, SessionLog
from negotiation.protocol.prompting import PromptBuilder, prompt_builder
from negotiation.protocol.seats import Seat
from negotiation.protocol.turn_schema import Bounds

SCRIPTED_POLICIES: tuple[str, ...] = (*POLICIES, "planner", "oracle")
SPECIAL_POLICIES = MappingProxyType({"planner": PlannerSeat, "oracle": OracleSeat})


@dataclass
class SeatResources:
    """What seats of many sessions share: model backends (by spec and base URL) and the
    terminal of human players."""

    wrap: Callable[[Backend], Backend] = lambda backend: backend
    backends: dict[str, Backend] = field(default_factory=dict)
    terminal: Terminal | None = None

    def backend(self, spec: ModelSpec, base_url: str | None) -> Backend:
        """The shared backend for ``spec`` (created and wrapped on first use)."""
        key = f"{spec}|{base_url}"
        if key not in self.backends:
            self.backends[key] = self.wrap(create_backend(spec, base_url=base_url))
        return self.backends[key]

    async def aclose(self) -> None:
        """Close every backend created so far."""
        for backend in self.backends.values():
            await backend.aclose()


def systems_of(record: PartyRecord, speakers: tuple[str, ...]) -> dict[str, str]:
    """Speaker -> the system prompt recorded for it when the session started."""
    return {s: record.representatives.get(s, record.initial_prompt) for s in speakers}


def _scripted(policy: str, game: Game, name: str, prompts: PromptBuilder,
              systems: dict[str, str]) -> Seat:
    if policy not in SCRIPTED_POLICIES:
        raise ConfigError(f"unknown scripted policy {policy!r} "
                          f"(known: {', '.join(SCRIPTED_POLICIES)})")
    if name.startswith("@"):
        return ScriptedHelper(policy, game.scoring, prompts)
    if policy in SPECIAL_POLICIES:
        return SPECIAL_POLICIES[policy](game.scoring, name, prompts, systems)
    return ScriptedSeat(policy, game.scoring, name, prompts, systems)


def make_seat(spec: ModelSpec, name: str, game: Game, log: SessionLog, prompts: PromptBuilder,
              generation: GenerateConfig, systems: dict[str, str], base_url: str | None,
              resources: SeatResources, structured: str = OFF) -> Seat:
    """The seat for one party (or ``@helper``) of one session."""
    if spec.provider == "scripted":
        return _scripted(spec.model, game, name, prompts, systems)
    if spec.provider in EXTERNAL_KINDS:
        raise ConfigError(f"{spec} was played through inspect_ai; run it with `inspect eval` "
                          "(docs/inspect.md), or name a model backend")
    if spec.provider == "human":
        if name.startswith("@"):
            raise ConfigError(f"a person cannot play the {name[1:]}")
        resources.terminal = resources.terminal or Terminal()
        return HumanSeat(resources.terminal, prompts, systems, spec.model, log.session_id)
    backend = resources.backend(spec, base_url)
    if structured != OFF and structured not in backend.structured_modes:
        raise ConfigError(f"--structured {structured}: the {spec.provider} backend ({spec}) "
                          f"supports {', '.join(('off', *backend.structured_modes))}")
    bounds = Bounds(**log.structured_bounds) if log.structured_bounds else Bounds()
    deals = None
    if structured != OFF and log.deal_space == "own" and not name.startswith("@"):
        deals = own_deals(game.scoring, game.scoring.party(name))
    return LLMSeat(backend, prompts, generation, systems, log.session_id, structured, bounds,
                   deals)


def make_seats(game: Game, log: SessionLog, base_url: str | None = None,
               resources: SeatResources | None = None) -> dict[str, Seat]:
    """One seat per party and per helper role the log names."""
    resources = resources if resources is not None else SeatResources()
    prompts = prompt_builder(game)
    seats: dict[str, Seat] = {}
    for record in log.parties:
        party = game.scoring.party(record.name)
        seats[record.name] = make_seat(
            parse_spec(record.model), record.name, game, log, prompts,
            GenerateConfig(**record.generation), systems_of(record, party.speakers), base_url,
            resources, record.structured)
    for role, model in log.helpers.items():
        seat = HelperRole(role).seat
        seats[seat] = make_seat(parse_spec(model), seat, game, log, prompts,
                                GenerateConfig(**log.parties[0].generation), {}, base_url,
                                resources, log.helper_structured.get(role, OFF))
    return seats
