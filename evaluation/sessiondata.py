"""The normalized per-session structure every reader produces, whatever the log format.

``SessionData`` is what metrics consume: parties and scores (a ``Scoring``), the public
messages in order (p1's opening, the discussion turns, p1's final proposal) with scratchpads
and parse records when the format keeps them, the votes, and whether the session finished.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from negotiation.core.game import Scoring
from negotiation.core.phases import Phase
from negotiation.logs.records import SessionLog


class ReadError(Exception):
    """One log file could not be evaluated (unreadable, unknown format, foreign speaker)."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.reason = path, message


@dataclass(frozen=True)
class Utterance:
    """One public message of the discussion: p1's opening, a round turn or p1's final."""

    index: int
    party: str
    phase: Phase
    public: str
    scratchpad: str = ""
    format_ok: bool | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    echo: bool | None = None
    """The answer repeats its prompt's placeholder text or example (``protocol.echo``); None
    when the log keeps no prompt."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase(self.phase))  # a name read from any format


@dataclass(frozen=True)
class Ballot:
    """One vote on p1's final proposal (native logs; old logs when readable)."""

    party: str
    vote: str | None
    format_ok: bool | None = None
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class SessionData:
    """A session in normalized form, whatever format it was read from."""

    source: Path
    format: str
    scoring: Scoring
    complete: bool
    utterances: tuple[Utterance, ...]
    ballots: tuple[Ballot, ...] = ()
    vote_passes: bool | None = None
    seed: int | None = None
    session_index: int | None = None
    run_name: str = ""
    models: Mapping[str, str] = field(default_factory=dict)
    structured: Mapping[str, str] = field(default_factory=dict)
    """Party -> its seat's structured mode (off, grammar, json); empty for other formats."""
    log: SessionLog | None = field(default=None, repr=False, compare=False)
    """The session log itself, for native logs (the report shows its transcript)."""

    @property
    def proposer(self) -> str:
        """The party that opens and closes (p1, or the first party)."""
        return self.scoring.proposer.name

    @property
    def final(self) -> Utterance | None:
        """p1's final proposal, if the session got that far."""
        return next((u for u in reversed(self.utterances) if u.phase is Phase.FINAL), None)

    @property
    def p1_model(self) -> str:
        """The model of p1 (the default leaderboard grouping)."""
        return self.models.get(self.proposer, "unknown")

    def pair_key(self) -> tuple[Any, ...]:
        """Key pairing this session with its twin in another run: game, seed, index (or file)."""
        if self.seed is not None and self.session_index is not None:
            return (self.scoring.name, self.seed, self.session_index)
        return (self.scoring.name, self.source.name)


@dataclass
class RunData:
    """Everything read from one PATH: sessions (complete or not) and per-file errors."""

    path: Path
    sessions: list[SessionData] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def complete(self) -> list[SessionData]:
        """Sessions that ran to the end (the ones metrics are computed on)."""
        return [s for s in self.sessions if s.complete]

    @property
    def n_unfinished(self) -> int:
        """Sessions that stopped early (reported, excluded from rates)."""
        return sum(1 for s in self.sessions if not s.complete)

    @property
    def format(self) -> str | None:
        """The most common format among the sessions read."""
        counts = Counter(s.format for s in self.sessions)
        return counts.most_common(1)[0][0] if counts else None


@dataclass(frozen=True)
class ReadOptions:
    """How to read: an overriding scoring view (``--game``) and the expected round count."""

    game: Scoring | None = None
    rounds: int | None = None


def check_speakers(path: Path, scoring: Scoring, names: list[str]) -> None:
    """Raise ``ReadError`` when a name is not a party of the game."""
    known = {p.name for p in scoring.parties}
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        raise ReadError(path, f"speaker {unknown[0]!r} is not a party of game "
                        f"{scoring.name!r} (parties: {', '.join(sorted(known))})")


