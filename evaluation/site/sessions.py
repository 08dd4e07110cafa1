"""The view of one session page: turns in order, the oracle view of every deal, the outcomes.

The *oracle view* of a deal is every party's score for it next to that party's minimum
(``negotiation.core.rules.score`` / ``accepts`` under the rules core), plus whether the deal would
pass by thresholds (``negotiation.core.rules.agreement``). Text is kept raw here: the templates
escape it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from evaluation.leakage import detect_leak
from evaluation.site.charts import Chart, score_chart
from negotiation.core.game import Deal, Scoring
from negotiation.core.phases import Phase
from negotiation.core.rules import accepts, agreement, in_game, score
from negotiation.logs.records import SessionLog, TurnRecord

_DEAL_TAG = re.compile(r"<DEAL>.*?</DEAL>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Mark:
    """One party's score for a deal against its minimum."""

    party: str
    role: str
    score: int
    minimum: int
    ok: bool


@dataclass(frozen=True)
class DealCheck:
    """The oracle view of one deal."""

    deal: str
    marks: tuple[Mark, ...]
    passes: bool
    unanimous: bool

    @property
    def accepting(self) -> int:
        """How many parties clear their minimum."""
        return sum(m.ok for m in self.marks)

    def score_of(self, party: str) -> int:
        """The score of ``party`` for this deal."""
        return next(m.score for m in self.marks if m.party == party)


@dataclass(frozen=True)
class TurnView:
    """One turn as shown: the record, its message split around deal tags, its deal check."""

    turn: TurnRecord
    segments: tuple[tuple[str, bool], ...]
    check: DealCheck | None
    leak: bool

    @property
    def who(self) -> str:
        """The party, with the representative who spoke when it has several."""
        t = self.turn
        return f"{t.party} ({t.speaker})" if t.speaker and t.speaker != t.party else t.party


@dataclass(frozen=True)
class PartyRow:
    """A party of the session with its final score and vote."""

    name: str
    role: str
    incentive: str
    model: str
    minimum: int
    final: int | None
    ok: bool | None
    vote: str | None
    tokens: tuple[int, int]
    structured: str = "off"


@dataclass(frozen=True)
class SessionView:
    """Everything a session page shows."""

    log: SessionLog
    path: Path
    page: str
    game_page: str
    run_label: str
    turns: tuple[TurnView, ...]
    parties: tuple[PartyRow, ...]
    final: DealCheck | None
    chart: Chart
    colors: dict[str, str]
    """Party -> CSS class of its colour (``p0`` … ``p9``, as in the chart)."""


def check_deal(deal: Deal | None, scoring: Scoring) -> DealCheck | None:
    """The oracle view of a logged deal; None when there is none (or it is not of this game)."""
    if deal is None or not in_game(deal, scoring.issues):
        return None
    marks = tuple(Mark(p.name, p.role, score(deal, p), p.minimum, accepts(deal, p))
                  for p in scoring.parties)
    verdict = agreement(deal, scoring)
    return DealCheck(str(deal), marks, verdict.passes, verdict.unanimous)


def split_deals(text: str) -> tuple[tuple[str, bool], ...]:
    """The message as (text, is a ``<DEAL>…</DEAL>`` tag) pieces, in order."""
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _DEAL_TAG.finditer(text):
        if match.start() > last:
            pieces.append((text[last:match.start()], False))
        pieces.append((match.group(0), True))
        last = match.end()
    if last < len(text) or not pieces:
        pieces.append((text[last:], False))
    return tuple(pieces)


def _leaks(turn: TurnRecord, scoring: Scoring) -> bool:
    if not turn.phase.is_public or not turn.public:
        return False
    try:
        return detect_leak(turn.public, scoring.party(turn.party), scoring)
    except KeyError:
        return False


def turn_view(turn: TurnRecord, scoring: Scoring) -> TurnView:
    """One turn with its deal's oracle view (none for votes and helper turns)."""
    speaks = turn.phase.is_public
    check = check_deal(turn.deal, scoring) if speaks else None
    return TurnView(turn, split_deals(turn.public), check, _leaks(turn, scoring))


def party_rows(log: SessionLog) -> tuple[PartyRow, ...]:
    """The parties with final score (bonus included, as logged), vote and tokens."""
    votes = {t.party: t.vote for t in log.turns if t.phase is Phase.VOTE}
    tokens: dict[str, tuple[int, int]] = {}
    for t in log.turns:
        i, o = tokens.get(t.party, (0, 0))
        tokens[t.party] = (i + t.input_tokens, o + t.output_tokens)
    accepting = set(log.threshold_outcome.accepting) if log.threshold_outcome else set()
    rows = []
    for p in log.parties:
        final = log.final_scores.get(p.name)
        ok = None if final is None or log.threshold_outcome is None else p.name in accepting
        rows.append(PartyRow(p.name, p.role, p.incentive, p.model, p.minimum, final, ok,
                             votes.get(p.name), tokens.get(p.name, (0, 0)), p.structured))
    return tuple(rows)


def session_view(log: SessionLog, path: Path, page: str, game_page: str,
                 run_label: str) -> SessionView:
    """Build the view of one session page."""
    scoring = log.scoring()
    turns = tuple(turn_view(t, scoring) for t in sorted(log.turns, key=lambda t: t.index))
    points = [(v.turn.index, v.check) for v in turns if v.check is not None]
    chart = score_chart(points, scoring)
    colors = {p.name: f"p{k % 10}" for k, p in enumerate(scoring.parties)}
    return SessionView(log, path, page, game_page, run_label, turns, party_rows(log),
                       check_deal(log.final_deal, scoring), chart, colors)
