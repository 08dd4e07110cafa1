"""Experiment files: a YAML sweep declaration -> a validated, expanded ``ExperimentPlan``.

``load_experiment`` reads the file (``experiment_schema`` checks keys and types), resolves the
games, checks every model spec, party name and incentive, loads each (game, party subset,
incentive assignment) combination once with ``load_game`` and expands the grid in a stable order:
games x subsets x incentives x p1 models x generation grid x seeds x repetitions. Every problem
is an ``ExperimentError`` naming the file, the line and the key; nothing is returned half-valid.
The format is documented in ``docs/experiments.md``.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from negotiation.backends.base import GenerateConfig
from negotiation.core.errors import ConfigError, GameFormatError
from negotiation.core.game import Game
from negotiation.games.loader import load_game, resolve_game_path
from negotiation.logs.safe_names import unsafe_reason
from negotiation.protocol.turn_schema import Bounds
from negotiation.runs.experiment_schema import (
    Document,
    ExperimentError,
    ExperimentSchema,
    KeyPath,
    read_document,
    validate_schema,
)
from negotiation.runs.setup import RunSettings, assign_models, game_hash
from negotiation.runs.specs import ExperimentPlan, RateLimit, SessionSpec

__all__ = ["MAX_SESSIONS", "ExperimentError", "describe", "load_experiment"]

MAX_SESSIONS = 100_000
"""The largest grid an experiment file may expand to."""
GENERATION_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "seed", "timeout_s")
_PLAIN = re.compile(r"^[A-Za-z0-9_.\- ]+$")
_COMBOS: KeyPath = ("parties", "combinations")


@dataclass(frozen=True)
class _GameEntry:
    key: KeyPath
    label: str
    path: Path
    game: Game

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.game.parties]


@dataclass(frozen=True)
class _Combination:
    """One (game, party subset, incentive assignment) that loads."""

    entry: _GameEntry
    parties: tuple[str, ...] | None
    incentives: dict[str, str]
    game: Game


def load_experiment(path: Path, *, games_dir: Path | None = None) -> ExperimentPlan:
    """Read, validate and expand an experiment file; raise ``ExperimentError`` on any problem."""
    doc = read_document(Path(path))
    return _Builder(doc, validate_schema(doc), games_dir).plan()


def describe(plan: ExperimentPlan) -> list[str]:
    """One line per session (for ``--dry-run``): label, game, models, incentives, parties."""
    width = len(str(len(plan.sessions)))
    return [f"{n:>{width}}. {_describe(spec)}" for n, spec in enumerate(plan.sessions, 1)]


def _describe(spec: SessionSpec) -> str:
    settings = spec.settings
    models = ([f"all={settings.model}"] if settings.model else []) + \
        [f"{name}={model}" for name, model in settings.party_models.items()]
    incentives = ", ".join(f"{k}={v}" for k, v in spec.incentives.items()) or "as configured"
    parties = ", ".join(spec.parties) if spec.parties is not None else "all"
    return (f"{spec.label} :: game={spec.game.name} models=[{', '.join(models) or 'config.txt'}] "
            f"incentives=[{incentives}] parties=[{parties}] seed={settings.seed} "
            f"index={spec.index}")


class _Builder:
    """Validates the meaning of a schema-checked document and expands its grid."""

    def __init__(self, doc: Document, schema: ExperimentSchema, games_dir: Path | None) -> None:
        self.doc, self.s, self.games_dir = doc, schema, games_dir
        self.fail = doc.error

    def plan(self) -> ExperimentPlan:
        s = self.s
        self.check_settings()
        games = [self.resolve_game(("games", i), entry) for i, entry in enumerate(s.games)]
        self.unique(("games",), [game_hash(g.path) for g in games])  # same content, same ids
        subsets = [(entry, self.subsets(entry)) for entry in games]
        total = sum(len(sub) for _, sub in subsets) * len(s.incentives) * self.per_condition()
        if total > MAX_SESSIONS:
            raise self.fail((), f"the grid has {total} sessions, more than {MAX_SESSIONS}")
        combinations = [c for entry, sub in subsets for c in self.combinations(entry, sub)]
        return ExperimentPlan(
            name=s.name or self.doc.path.stem, out=Path(s.out),
            sessions=tuple(self.sample(self.expand(combinations))), concurrency=s.concurrency,
            rate_limits={k: RateLimit(**v.model_dump()) for k, v in s.rate_limits.items()},
            cache=s.cache, workers=s.workers,
            max_cost=s.max_cost, prices=self.prices())

    def prices(self) -> Path | None:
        """The price table, checked now (``costs.load_prices``) so that nothing runs on error."""
        if self.s.prices is None:
            return None
        from negotiation.runs.costs import load_prices

        path = (self.doc.path.parent / self.s.prices).resolve()
        if not path.is_file():
            raise self.fail(("prices",), f"price table {str(path)!r} is not a file")
        try:
            load_prices(path)
        except ValueError as err:  # ConfigError, or a decoding error
            raise self.fail(("prices",), f"bad price table: {err}") from None
        return path

    def unique(self, key: KeyPath, values: list[object]) -> None:
        """Refuse a repeated grid entry (it would duplicate sessions)."""
        seen: dict[object, int] = {}
        for i, value in enumerate(values):
            if value in seen:
                raise self.fail((*key, i), f"duplicate entry (same as entry {seen[value]})")
            seen[value] = i

    def either(self, first: KeyPath, second: KeyPath, present: bool) -> None:
        if present:
            raise self.fail(max(first, second, key=self.doc.line_of),
                            f"give either {first[-1]} or {second[-1]}, not both")

    def check_settings(self) -> None:
        s = self.s
        self.either(("repetitions",), ("seeds",), s.repetitions is not None and bool(s.seeds))
        self.either((*_COMBOS,), ("parties", "subsets"), s.parties is not None and
                    s.parties.combinations is not None and s.parties.subsets is not None)
        name = s.name or self.doc.path.stem
        reason = unsafe_reason(name)
        if reason is not None:
            raise self.fail(("name",), f"run name {name[:60]!r} {reason}")
        self.unique(("seeds",), list(s.seeds or []))
        self.unique(("models", "p1"), list(s.models.p1 or []))
        for name in GENERATION_KEYS:
            self.unique(("generation", name), list(getattr(s.generation, name)))
        self.unique(("incentives",), [tuple(sorted(a.items())) for a in s.incentives])
        if s.parties is not None and s.parties.subsets is not None:
            self.unique(("parties", "subsets"), [frozenset(n) for n in s.parties.subsets])

    def resolve_game(self, key: KeyPath, label: str) -> _GameEntry:
        local = self.doc.path.parent / label
        try:
            path = local if local.is_dir() else resolve_game_path(label, self.games_dir)
        except (GameFormatError, OSError, ValueError):
            raise self.fail(key, f"unknown game {label!r}: not a folder relative to "
                            f"{str(self.doc.path.parent)!r}, nor a game under "
                            f"{self.games_dir or 'games_descriptions/'}") from None
        try:
            entry = _GameEntry(key, label, path.resolve(), load_game(path))
        except GameFormatError as err:
            raise self.fail(key, f"game {label!r} is malformed: {err}") from None
        for party in self.s.models.parties:
            self.check_party(("models", "parties", party), party, entry)
        for i, assignment in enumerate(self.s.incentives):
            for party, incentive in assignment.items():
                self.check_incentive(("incentives", i, party), party, incentive, entry)
        return entry

    def check_party(self, key: KeyPath, name: str, entry: _GameEntry) -> None:
        if name not in entry.names:
            raise self.fail(key, f"{name!r} is not a party of game {entry.label!r} "
                            f"(parties: {', '.join(entry.names)})")

    def check_incentive(self, key: KeyPath, party: str, incentive: str,
                        entry: _GameEntry) -> None:
        self.check_party(key, party, entry)
        if not _PLAIN.match(incentive) or ".." in incentive:
            raise self.fail(key, f"incentive {incentive!r} is not a plain name")
        file_name = next(p.file_name for p in entry.game.parties if p.name == party)
        brief = f"individual_instructions/{incentive}/{file_name}.txt"
        if not (entry.path / brief).is_file():
            raise self.fail(key, f"game {entry.label!r} has no {brief} (the brief of "
                            f"{party!r} with incentive {incentive!r})")

    def subsets(self, entry: _GameEntry) -> list[tuple[KeyPath, tuple[str, ...] | None]]:
        """(key, parties) of every party subset of ``entry``, in game order; None: all."""
        parties = self.s.parties
        if parties is None or (parties.combinations is None and parties.subsets is None):
            return [(("parties",), None)]
        if parties.subsets is None:
            return self.combos(entry)
        out: list[tuple[KeyPath, tuple[str, ...] | None]] = []
        for i, names in enumerate(parties.subsets):
            for j, name in enumerate(names):
                self.check_party(("parties", "subsets", i, j), name, entry)
            self.unique(("parties", "subsets", i), list(names))
            if len(names) < 2:
                raise self.fail(("parties", "subsets", i), "a subset needs at least 2 parties")
            out.append((("parties", "subsets", i), tuple(n for n in entry.names if n in names)))
        return out

    def combos(self, entry: _GameEntry) -> list[tuple[KeyPath, tuple[str, ...] | None]]:
        spec = self.s.parties.combinations  # type: ignore[union-attr]
        assert spec is not None
        for j, name in enumerate(spec.always):
            self.check_party((*_COMBOS, "always", j), name, entry)
        pool = spec.of if spec.of is not None else \
            [n for n in entry.names if n not in spec.always]
        for j, name in enumerate(pool):
            self.check_party((*_COMBOS, "of", j), name, entry)
            if name in spec.always:
                raise self.fail((*_COMBOS, "of", j), f"{name!r} is also in always")
        for key, values in (("of", pool), ("always", spec.always), ("k", spec.k)):
            self.unique((*_COMBOS, key), list(values))
        out: list[tuple[KeyPath, tuple[str, ...] | None]] = []
        for i, k in enumerate(spec.k):
            if k > len(pool) or k + len(spec.always) < 2:
                raise self.fail((*_COMBOS, "k", i), f"k = {k} is impossible: the pool (of) "
                                f"holds {len(pool)} parties of game {entry.label!r} and "
                                f"subsets need at least 2 parties ({len(spec.always)} always)")
            if math.comb(len(pool), k) > MAX_SESSIONS:
                raise self.fail((*_COMBOS, "k", i), f"more than {MAX_SESSIONS} subsets")
            for chosen in itertools.combinations(pool, k):
                wanted = set(chosen) | set(spec.always)
                out.append(((*_COMBOS, "k", i), tuple(n for n in entry.names if n in wanted)))
        return out

    def per_condition(self) -> int:
        """Sessions per (game, subset, incentives) combination."""
        s, gen = self.s, self.s.generation
        return (len(s.models.p1 or [None]) * len(s.seeds or [0]) * (s.repetitions or 1)
                * math.prod(len(getattr(gen, k)) for k in GENERATION_KEYS))

    def combinations(self, entry: _GameEntry,
                     subsets: list[tuple[KeyPath, tuple[str, ...] | None]]) -> list[_Combination]:
        out = []
        for key, parties in subsets:
            for i, assignment in enumerate(self.s.incentives):
                game = self.load(entry, key, parties, ("incentives", i), assignment)
                kept = {k: v for k, v in assignment.items() if parties is None or k in parties}
                out.append(_Combination(entry, parties, kept, game))
        return out

    def load(self, entry: _GameEntry, subset_key: KeyPath, parties: tuple[str, ...] | None,
             key: KeyPath, assignment: Mapping[str, str]) -> Game:
        """Load one combination; blame the incentive or the subset that breaks it."""
        try:
            return load_game(entry.path, assignment, parties)
        except GameFormatError as err:
            error = err
        try:
            load_game(entry.path, None, parties)
        except GameFormatError:
            key = subset_key
        else:
            key = next(((*key, name) for name in assignment if repr(name) in error.reason), key)
        where = f" with parties {', '.join(parties)}" if parties is not None else ""
        raise self.fail(key, f"game {entry.label!r}{where}: {error}")

    def expand(self, combinations: list[_Combination]) -> list[SessionSpec]:
        s, reps = self.s, self.s.repetitions or 1
        generations = list(itertools.product(*(getattr(s.generation, k) for k in GENERATION_KEYS)))
        seen: set[tuple[object, ...]] = set()
        out: list[SessionSpec] = []
        for combo, p1 in itertools.product(combinations, s.models.p1 or [None]):
            party_models = self.party_models(combo, p1)
            for values, seed in itertools.product(generations, s.seeds or [0]):
                generation = dict(zip(GENERATION_KEYS, values))
                settings = RunSettings(
                    model=s.models.all, party_models=party_models, rounds=s.rounds,
                    window=s.window, vote=s.vote, seed=seed, base_url=s.base_url,
                    generation=GenerateConfig(**generation),  # type: ignore[arg-type]
                    structured=s.structured, bounds=Bounds(**s.structured_bounds),
                    deal_space=s.deal_space)
                key = self.identity(combo, settings)
                if key not in seen:
                    seen.add(key)
                    label = self.label(combo, p1, generation, seed)
                    tags = [f" | rep {n}" if reps > 1 else "" for n in range(reps)]
                    out += [SessionSpec(combo.entry.path, settings, n, combo.parties,
                                        combo.incentives, label + tag)
                            for n, tag in enumerate(tags)]
        return out

    def party_models(self, combo: _Combination, p1: str | None) -> dict[str, str]:
        names = [p.name for p in combo.game.parties]
        out = {k: v for k, v in self.s.models.parties.items() if k in names}
        if p1 is not None:
            proposer = combo.game.scoring.proposer.name
            if proposer in out:
                raise self.fail(("models", "parties", proposer), f"{proposer!r} is the "
                                f"proposer of game {combo.entry.label!r}, set by models.p1")
            out[proposer] = p1
        return out

    def identity(self, combo: _Combination, settings: RunSettings) -> tuple[object, ...]:
        """What a session id depends on besides the index (``session.session_id``), with the
        game's path for its content hash; conditions with equal keys run once."""
        try:
            models = assign_models(combo.game, settings)
        except ConfigError as err:
            raise self.fail(combo.entry.key, f"game {combo.entry.label!r}: {err} (set "
                            "models.all or models.parties to override config.txt)") from None
        return (str(combo.entry.path), tuple((p.name, p.incentive) for p in combo.game.parties),
                tuple((k, str(v)) for k, v in models.items()), settings.seed,
                tuple(sorted(settings.generation.to_record().items())))

    def label(self, combo: _Combination, p1: str | None, generation: dict[str, object],
              seed: int) -> str:
        """The condition in words: the game and every grid value that varies."""
        parts = [combo.entry.label]
        if combo.parties is not None:
            parts.append("parties: " + ", ".join(combo.parties))
        if combo.incentives:
            parts.append("incentives: " + ", ".join(f"{k}={v}"
                                                    for k, v in combo.incentives.items()))
        parts += [f"p1: {p1}"] if p1 is not None else []
        parts += [f"{k}={v}" for k, v in generation.items()
                  if len(getattr(self.s.generation, k)) > 1]
        parts += [f"seed={seed}"] if self.s.seeds is not None else []
        return " | ".join(parts)

    def sample(self, sessions: list[SessionSpec]) -> list[SessionSpec]:
        if not sessions:
            raise self.fail((), "the grid is empty: no session to run")
        if self.s.sample is None:
            return sessions
        k, seed = self.s.sample.k, self.s.sample.seed
        if k > len(sessions):
            raise self.fail(("sample", "k"), f"k = {k} is larger than the grid of "
                            f"{len(sessions)} sessions")
        chosen = sorted(random.Random(seed).sample(range(len(sessions)), k))
        return [sessions[i] for i in chosen]
