"""Frozen value objects describing a game: issues, parties with score sheets, deals.

These are the contract every other layer (loader, rules, prompts, engine, evaluation) uses. They
validate themselves on construction, so an object that exists is a consistent game.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

PROPOSER_ROLE = "p1"
"""The role that opens, makes the final proposal, holds a veto and may earn the bonus."""
VETO_ROLES: tuple[str, ...] = (PROPOSER_ROLE, "p2")
"""Roles whose acceptance every passing deal needs."""
TARGET_ROLE = "target"
"""The party a targeted adversary aims at."""
PLAYER_ROLE = "player"
ROLES: tuple[str, ...] = (*VETO_ROLES, TARGET_ROLE, PLAYER_ROLE)
BUILTIN_INCENTIVES: tuple[str, ...] = ("cooperative", "greedy", "untargeted_adv", "targeted_adv")
ADVERSARIAL_INCENTIVES: tuple[str, ...] = ("untargeted_adv", "targeted_adv")
MAX_PARTIES = 15
MAX_ISSUES = 26
MIN_OPTIONS, MAX_OPTIONS = 2, 9
MAX_REPRESENTATIVES = 5


def representative_names(name: str, count: int) -> tuple[str, ...]:
    """The speakers of a party: itself, or ``Name 1`` … ``Name K`` when it has K > 1."""
    return (name,) if count == 1 else tuple(f"{name} {i}" for i in range(1, count + 1))


@dataclass(frozen=True)
class Issue:
    """One issue of the deal: a letter (A, B, …) and how many options (1-based) it has."""

    letter: str
    n_options: int

    def __post_init__(self) -> None:
        if len(self.letter) != 1 or self.letter not in string.ascii_uppercase:
            raise ValueError(f"issue letter must be one of A-Z, got {self.letter!r}")
        if not MIN_OPTIONS <= self.n_options <= MAX_OPTIONS:
            raise ValueError(f"issue {self.letter} has {self.n_options} options, need 2-9")

    def option_name(self, k: int) -> str:
        """The name of option ``k`` (1-based), e.g. ``C4``."""
        return f"{self.letter}{k}"


@dataclass(frozen=True)
class Deal:
    """One option (1-based) per issue, in issue order."""

    options: tuple[int, ...]

    def __str__(self) -> str:
        return ",".join(f"{string.ascii_uppercase[i]}{k}" for i, k in enumerate(self.options))

    def names(self) -> tuple[str, ...]:
        """Option names such as ``("A1", "B2", …)``."""
        return tuple(f"{string.ascii_uppercase[i]}{k}" for i, k in enumerate(self.options))

    @classmethod
    def from_names(cls, names: Sequence[str]) -> Deal:
        """The deal naming ``("A1", "B2", …)``: one option per issue, issues in order A, B, …
        (ValueError otherwise). Ranges are checked against a game by ``rules.parse_deal``."""
        options = []
        for i, name in enumerate(names):
            letter, digits = name[:1], name[1:]
            if letter != string.ascii_uppercase[i] or not digits.isdigit() or int(digits) < 1:
                raise ValueError(f"option {i + 1} of a deal must be {string.ascii_uppercase[i]}<k>,"
                                 f" got {name!r}")
            options.append(int(digits))
        if not options:
            raise ValueError("a deal names at least one option")
        return cls(tuple(options))


def deal_text(deal: Deal | None) -> str | None:
    """``"A1,B2,…"``, or None without a deal (tables and text reports)."""
    return None if deal is None else str(deal)


def _coerce_deal(value: Any) -> Deal:
    """A ``Deal`` from a deal, a list of option names (format 2) or ``"A1,B2"`` (format 1)."""
    if isinstance(value, Deal):
        return value
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return Deal.from_names(value)
    raise ValueError(f"a deal is a list of option names like ['A1', 'B2'], got {value!r}")


DealValue = Annotated[
    Deal, PlainValidator(_coerce_deal), PlainSerializer(lambda d: list(d.names())),
    WithJsonSchema({"type": "array", "items": {"type": "string"}})]
"""A deal inside a pydantic record: stored as its option names (``["A1", "B2", …]``)."""


@dataclass(frozen=True)
class Party:
    """A stakeholder: its config line, its score sheet and its minimum acceptable score."""

    name: str
    file_name: str
    role: str
    incentive: str
    model: str
    scores: tuple[tuple[int, ...], ...]
    minimum: int
    line: int = 0
    count: int = 1
    """How many representatives speak for this party (config.txt's optional ``count=K``);
    they share this score sheet and one vote."""

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_REPRESENTATIVES:
            raise ValueError(f"count must be 1-{MAX_REPRESENTATIVES}, got {self.count}")
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r} (expected one of {', '.join(ROLES)})")
        if not self.name:
            raise ValueError("party name is empty")

    def score_of(self, issue_index: int, option: int) -> int:
        """This party's score for ``option`` (1-based) of the issue at ``issue_index``."""
        return self.scores[issue_index][option - 1]

    @functools.cached_property
    def speakers(self) -> tuple[str, ...]:
        """The names under which this party speaks."""
        return representative_names(self.name, self.count)

    @property
    def is_p1(self) -> bool:
        """Whether this party is p1 (opens, closes, holds a veto, may earn the bonus)."""
        return self.role == PROPOSER_ROLE

    @property
    def has_veto(self) -> bool:
        """Whether every passing deal needs this party's acceptance (p1 and p2)."""
        return self.role in VETO_ROLES

    @property
    def is_target(self) -> bool:
        """Whether a targeted adversary aims at this party."""
        return self.role == TARGET_ROLE

    @property
    def is_adversarial(self) -> bool:
        """True for the adversarial incentives of the paper."""
        return self.incentive in ADVERSARIAL_INCENTIVES


@dataclass(frozen=True)
class Scoring:
    """The scoring view of a game: issues and parties, no prompts.

    This is all that rules, analysis and evaluation need; log folders carry only this much.
    """

    name: str
    path: Path
    issues: tuple[Issue, ...]
    parties: tuple[Party, ...]

    def __post_init__(self) -> None:
        if not 2 <= len(self.parties) <= MAX_PARTIES:
            raise ValueError(f"a game needs 2-{MAX_PARTIES} parties, got {len(self.parties)}")
        if not 1 <= len(self.issues) <= MAX_ISSUES:
            raise ValueError(f"a game needs 1-{MAX_ISSUES} issues, got {len(self.issues)}")
        shape = tuple(i.n_options for i in self.issues)
        for p in self.parties:
            if tuple(len(row) for row in p.scores) != shape:
                raise ValueError(f"party {p.name!r} has a score sheet of another shape")

    @functools.cached_property
    def proposer(self) -> Party:
        """The party that opens and closes: p1, or the first party when there is no p1."""
        return next((p for p in self.parties if p.is_p1), self.parties[0])

    @functools.cached_property
    def has_p1(self) -> bool:
        """Whether a p1 (proposer with a veto) exists; otherwise the first party chairs."""
        return any(p.is_p1 for p in self.parties)

    @functools.cached_property
    def vetoes(self) -> tuple[Party, ...]:
        """The veto parties present: p1 and p2."""
        return tuple(p for p in self.parties if p.has_veto)

    @functools.cached_property
    def target(self) -> Party | None:
        """The party a targeted adversary aims at, if any."""
        return next((p for p in self.parties if p.is_target), None)

    def party(self, name: str) -> Party:
        """Look a party up by display name or by one of its speakers (KeyError when absent)."""
        return self._by_name[name]

    @functools.cached_property
    def _by_name(self) -> dict[str, Party]:
        index = {s: p for p in reversed(self.parties) for s in p.speakers}
        index.update({p.name: p for p in reversed(self.parties)})
        return index

    @functools.cached_property
    def speakers(self) -> tuple[str, ...]:
        """Every speaker in config order (a party with count=K contributes K)."""
        return tuple(s for p in self.parties for s in p.speakers)

    def n_deals(self) -> int:
        """The number of possible deals (product of option counts)."""
        total = 1
        for issue in self.issues:
            total *= issue.n_options
        return total


@dataclass(frozen=True)
class Game:
    """A full game: the scoring view plus everything needed to render prompts."""

    scoring: Scoring
    global_instructions: str
    briefs: Mapping[str, str]
    """Party name -> confidential brief with placeholders already filled in."""
    initial_deal: Deal
    initial_deal_given: bool
    """False when ``initial_deal.txt`` was absent and the proposer's best deal was used."""
    prompts_dir: Path | None = None
    """The game's own ``prompts/`` folder overriding library templates, if any."""
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "briefs", MappingProxyType(dict(self.briefs)))
        missing = [p.name for p in self.scoring.parties if p.name not in self.briefs]
        if missing:
            raise ValueError(f"no brief for {', '.join(missing)}")

    @property
    def name(self) -> str:
        """The game's name (its folder name)."""
        return self.scoring.name

    @property
    def parties(self) -> tuple[Party, ...]:
        """Shortcut to ``scoring.parties``."""
        return self.scoring.parties

    @property
    def issues(self) -> tuple[Issue, ...]:
        """Shortcut to ``scoring.issues``."""
        return self.scoring.issues
