"""Setting up sessions: model assignment, stable ids, new logs, backends, resume.

This is the glue between a run configuration (CLI flags today, YAML sweeps later) and the
round engine. Session ids derive from the configuration and the session index, so running the
same configuration again finds the same files and resumes or skips them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from negotiation import __version__
from negotiation.agents.specs import legacy_to_spec, parse_spec
from negotiation.agents.structured import DEAL_SPACES, OFF, resolve_mode
from negotiation.protocol.turn_schema import MODES, Bounds
from negotiation.backends.base import GenerateConfig
from negotiation.backends.registry import ModelSpec
from negotiation.core.errors import ConfigError
from negotiation.core.game import Game
from negotiation.core.phases import (
    MEMORY_MODES,
    MODERATOR_ORDER,
    SUMMARY_MEMORY,
    WINDOW_MEMORY,
    HelperRole,
)
from negotiation.logs.clock import now_iso
from negotiation.logs.records import GameRef, PartyRecord, SessionLog
from negotiation.protocol.engine import derive_seed
from negotiation.protocol.prompting import prompt_builder
from negotiation.protocol.speakers import POLICIES, SpeakerContext, static_order
from negotiation.runs import bounds

PACKAGES = ("openai", "google-genai", "llama_cpp_python", "transformers", "torch", "pydantic",
            "jinja2", "numpy")


@dataclass(frozen=True)
class RunSettings:
    """Everything that defines one condition of a run (sessions differ only by index)."""

    model: str | None = None
    party_models: Mapping[str, str] = field(default_factory=dict)
    rounds: int | None = None
    window: int = 6
    vote: bool = True
    seed: int = 0
    generation: GenerateConfig = field(default_factory=GenerateConfig)
    base_url: str | None = None
    order: str = "paper"
    moderator_model: str | None = None
    memory: str = WINDOW_MEMORY
    summary_every: int | None = None
    summarizer_model: str | None = None
    structured: str = "auto"
    """off, grammar, json or auto (resolved per seat: ``agents.structured``)."""
    bounds: Bounds = field(default_factory=Bounds)
    """Character bounds of constrained fields."""
    deal_space: str = "all"
    """all, or own: constrained seats name only deals that clear their own minimum."""

    def __post_init__(self) -> None:
        for name in ("rounds", "window", "seed", "summary_every"):
            bounds.check(name, getattr(self, name))
        bounds.check("max_tokens", self.generation.max_tokens)
        if self.order not in POLICIES:
            raise ConfigError(f"--order must be one of {', '.join(POLICIES)}")
        if self.memory not in MEMORY_MODES:
            raise ConfigError(f"--memory must be one of {', '.join(MEMORY_MODES)}")
        if self.order == MODERATOR_ORDER and not self.moderator_model:
            raise ConfigError(f"--order {MODERATOR_ORDER} needs --moderator-model SPEC")
        if self.memory == SUMMARY_MEMORY and not self.summarizer_model:
            raise ConfigError(f"--memory {SUMMARY_MEMORY} needs --summarizer-model SPEC")
        if self.structured not in MODES:
            raise ConfigError(f"--structured must be one of {', '.join(MODES)}")
        if self.deal_space not in DEAL_SPACES:
            raise ConfigError(f"--deal-space must be one of {', '.join(DEAL_SPACES)}")

    def helpers(self) -> dict[str, str]:
        """Model specs of the helper roles this configuration uses."""
        out = {}
        if self.order == MODERATOR_ORDER and self.moderator_model:
            out[HelperRole.MODERATOR.value] = str(parse_spec(self.moderator_model))
        if self.memory == SUMMARY_MEMORY and self.summarizer_model:
            out[HelperRole.SUMMARIZER.value] = str(parse_spec(self.summarizer_model))
        return out


def assign_models(game: Game, settings: RunSettings) -> dict[str, ModelSpec]:
    """Which model each party gets: ``--party-model`` > ``--model`` > config.txt > default."""
    names = {p.name for p in game.parties}
    unknown = sorted(set(settings.party_models) - names)
    if unknown:
        raise ConfigError(f"--party-model names {unknown[0]!r}, which is not a party of "
                          f"{game.name} (parties: {', '.join(p.name for p in game.parties)})")
    out: dict[str, ModelSpec] = {}
    for party in game.parties:
        chosen = settings.party_models.get(party.name) or settings.model or party.model
        out[party.name] = parse_spec(legacy_to_spec(chosen))
    return out


def game_hash(folder: Path) -> str:
    """SHA-256 over every file of a game folder (relative path and content); computed once
    per folder state (the files' sizes and modification times), not once per session."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    stamp = tuple((str(p.relative_to(folder)), p.stat().st_mtime_ns, p.stat().st_size)
                  for p in files)
    return _hash_files(str(folder), stamp)


@functools.lru_cache(maxsize=64)
def _hash_files(folder: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for rel, _, _ in stamp:
        data = (Path(folder) / rel).read_bytes()
        digest.update(rel.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def seat_modes(game: Game, models: Mapping[str, ModelSpec],
               settings: RunSettings) -> tuple[dict[str, str], dict[str, str]]:
    """(party -> structured mode, helper role -> mode) as resolved for their seats."""
    parties = {name: resolve_mode(settings.structured, str(spec))
               for name, spec in models.items()}
    helpers = {role: resolve_mode(settings.structured, spec)
               for role, spec in settings.helpers().items()
               if role != HelperRole.SUMMARIZER.value}  # the summarizer writes free text
    constrained = [m for m in (*parties.values(), *helpers.values()) if m != OFF]
    if settings.deal_space != "all" and not constrained:
        raise ConfigError(f"--deal-space {settings.deal_space} restricts constrained seats, and "
                          "no seat is constrained (use --structured grammar or json)")
    return parties, helpers


def session_id(game: Game, models: Mapping[str, ModelSpec], settings: RunSettings,
               index: int, content_hash: str | None = None) -> str:
    """A stable id from the configuration and the session index (structured modes enter it
    only when some seat is constrained, so ids of free runs stay what they were)."""
    key = {
        "game": content_hash or game_hash(game.scoring.path),
        "models": {k: str(v) for k, v in models.items()},
        "incentives": {p.name: p.incentive for p in game.parties}, "rounds": settings.rounds,
        "window": settings.window, "vote": settings.vote, "seed": settings.seed,
        "generation": settings.generation.to_record(), "index": index,
    }
    if settings.order != "paper" or settings.memory != WINDOW_MEMORY:
        key.update(order=settings.order, memory=settings.memory,
                   summary_every=settings.summary_every, helpers=settings.helpers())
    parties, helpers = seat_modes(game, models, settings)
    if any(m != OFF for m in (*parties.values(), *helpers.values())):
        key.update(structured=parties, helper_structured=helpers,
                   bounds=vars(settings.bounds), deal_space=settings.deal_space)
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    out = {"negotiation": __version__, "python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return tuple(out.items())


def package_versions() -> dict[str, str]:
    """Versions of the harness, Python and the SDKs that are installed (read once)."""
    return dict(_versions())


def worker_name() -> str:
    """Who runs a session: ``pid@host`` of this process (recorded in the log, volatile)."""
    return f"{os.getpid()}@{socket.gethostname()}"


def new_log(game: Game, models: Mapping[str, ModelSpec], settings: RunSettings, run_name: str,
            index: int, content_hash: str | None = None) -> SessionLog:
    """A fresh session log with parties, prompts and speaking order, no turns yet
    (``content_hash``: the game folder's ``game_hash``, when the caller has it already)."""
    scoring = game.scoring
    rounds = settings.rounds if settings.rounds is not None else 4 * len(scoring.speakers)
    seed = derive_seed(settings.seed, index) if index else settings.seed
    builder = prompt_builder(game)
    content_hash = content_hash or game_hash(scoring.path)
    names = list(scoring.speakers)
    context = SpeakerContext(tuple(names), scoring.proposer.speakers[0], rounds, seed)
    modes, helper_modes = seat_modes(game, models, settings)
    constrained = any(m != OFF for m in (*modes.values(), *helper_modes.values()))
    parties = [PartyRecord(name=p.name, file_name=p.file_name, role=p.role, incentive=p.incentive,
                           model=str(models[p.name]), generation=settings.generation.to_record(),
                           scores=[list(r) for r in p.scores], minimum=p.minimum,
                           initial_prompt=builder.initial(p),
                           representatives={s: builder.initial(p, s) for s in p.speakers
                                            if p.count > 1},
                           structured=modes[p.name]) for p in scoring.parties]
    return SessionLog(
        session_id=session_id(game, models, settings, index, content_hash), run_name=run_name,
        session_index=index,
        game=GameRef(name=game.name, path=str(scoring.path.resolve()),
                     content_hash=content_hash),
        issues=[{"letter": i.letter, "n_options": i.n_options} for i in scoring.issues],
        parties=parties, proposer=scoring.proposer.name, seed=seed, rounds=rounds,
        window=settings.window, vote=settings.vote,
        order=static_order(settings.order, context), order_policy=settings.order,
        memory=settings.memory, helpers=settings.helpers(),
        summary_every=(settings.summary_every or len(names))
        if settings.memory == SUMMARY_MEMORY else 0, helper_structured=helper_modes,
        structured_bounds=vars(settings.bounds) if constrained else {},
        deal_space=settings.deal_space,
        created_at=now_iso(), package_versions=package_versions())
