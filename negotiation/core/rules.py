"""The rules core: deal parsing, scoring, acceptability and agreement as pure functions.

The round engine, the vectorised deal-space analysis, ``game harden`` and the evaluation all
call these, so there is exactly one definition of "a party accepts" (its score, plus p1's
unanimity bonus when the policy counts it, clears its minimum) and "a deal passes" (enough
accepting parties, every veto party among them). Policies are explicit parameters, never
globals. ``acceptance_offsets``, ``clears_array`` and ``veto_mask`` are the same rules for whole
deals × parties matrices.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic.dataclasses import dataclass as record_dataclass

from negotiation.core.errors import DealError
from negotiation.core.game import Deal, DealValue, Issue, Party, Scoring

UNANIMITY_BONUS = 10
_OPTION = re.compile(r"^([A-Za-z])\s*([0-9]{1,3})$")


@dataclass(frozen=True)
class RulePolicy:
    """How acceptability and agreement are judged.

    Attributes:
        strict: compare with ``>`` instead of ``>=`` (the prompts say a party "cannot accept
            any deal with a score less than" its minimum, hence ``>=`` by default).
        required: how many parties must accept; ``None`` means N-1.
        bonus_in_acceptance: let p1's unanimity bonus count towards its own acceptance (the
            paper-compatible evaluation does; the default rules treat it as a payoff only).
    """

    strict: bool = False
    required: int | None = None
    bonus_in_acceptance: bool = False

    @property
    def comparison(self) -> str:
        """``>`` or ``>=``."""
        return ">" if self.strict else ">="


DEFAULT_POLICY = RulePolicy()
STRICT_POLICY = RulePolicy(strict=True)


@record_dataclass(frozen=True)
class Outcome:
    """The verdict on one deal: by thresholds (``agreement``) or by votes (``passes_with``).

    This one type is what the engine records in session logs, what ``evaluate`` computes
    under either rule set and what the report shows.
    """

    deal: DealValue | None
    """The deal judged; None when the final proposal named no full deal."""
    accepting: tuple[str, ...]
    """Parties that accept, in the order they were counted."""
    passes: bool
    """Enough accepting parties, every veto party among them."""
    unanimous: bool
    """Every party accepts."""


NO_DEAL = Outcome(deal=None, accepting=(), passes=False, unanimous=False)


def parse_deal(text: str, issues: Sequence[Issue]) -> Deal:
    """Parse ``"A1,B2,…"`` (spaces, any order and lower case tolerated) into a ``Deal``.

    Raises:
        DealError: empty input, a malformed token, an unknown issue or option, an issue given
            twice, or an issue missing.
    """
    tokens = [t.strip() for t in text.replace(";", ",").split(",")]
    tokens = [t for t in tokens if t]
    if not tokens:
        raise DealError("empty deal")
    letters = {issue.letter: i for i, issue in enumerate(issues)}
    chosen: dict[int, int] = {}
    for token in tokens:
        match = _OPTION.match(token)
        if match is None:
            raise DealError(f"{token[:40]!r} is not an option like A1")
        letter, number = match.group(1).upper(), int(match.group(2))
        if letter not in letters:
            raise DealError(f"unknown issue {letter} in {token!r}")
        index = letters[letter]
        if not 1 <= number <= issues[index].n_options:
            raise DealError(f"unknown option {letter}{number}: issue {letter} has "
                            f"{issues[index].n_options} options")
        if index in chosen:
            raise DealError(f"issue {letter} is given twice")
        chosen[index] = number
    missing = [issue.letter for i, issue in enumerate(issues) if i not in chosen]
    if missing:
        raise DealError(f"deal misses issue(s) {', '.join(missing)}")
    return Deal(tuple(chosen[i] for i in range(len(issues))))


def in_game(deal: Deal, issues: Sequence[Issue]) -> bool:
    """Whether a deal names exactly one existing option of every issue of the game."""
    return len(deal.options) == len(issues) and all(
        1 <= k <= issue.n_options for k, issue in zip(deal.options, issues))


def score(deal: Deal, party: Party) -> int:
    """The party's score for a deal: the sum of its scores for the chosen options."""
    return sum(party.score_of(i, k) for i, k in enumerate(deal.options))


def clears(value: int, minimum: int, policy: RulePolicy = DEFAULT_POLICY) -> bool:
    """Whether ``value`` clears ``minimum`` under the policy's comparison."""
    return value > minimum if policy.strict else value >= minimum


def acceptance_bonus(party: Party, policy: RulePolicy = DEFAULT_POLICY) -> int:
    """What the policy adds to a party's score before comparing it with its minimum: p1's
    unanimity bonus when ``bonus_in_acceptance``, else nothing."""
    return UNANIMITY_BONUS if policy.bonus_in_acceptance and party.is_p1 else 0


def accepts(deal: Deal, party: Party, policy: RulePolicy = DEFAULT_POLICY) -> bool:
    """Whether a party can accept a deal (its score, plus any bonus, clears its minimum)."""
    return clears(score(deal, party) + acceptance_bonus(party, policy), party.minimum, policy)


def required_supporters(scoring: Scoring, policy: RulePolicy = DEFAULT_POLICY) -> int:
    """How many parties must accept: ``policy.required`` or N-1."""
    return policy.required if policy.required is not None else len(scoring.parties) - 1


def passes_with(accepting: set[str], scoring: Scoring,
                policy: RulePolicy = DEFAULT_POLICY) -> tuple[bool, bool]:
    """(passes, unanimous) given the names of the accepting parties.

    A deal passes with at least ``required_supporters`` accepting parties, every veto party
    present (p1, p2) among them. The engine's vote outcome and the threshold outcome both
    use this one definition.
    """
    vetoes_ok = all(v.name in accepting for v in scoring.vetoes)
    members = {p.name for p in scoring.parties} & accepting
    passes = vetoes_ok and len(members) >= required_supporters(scoring, policy)
    return passes, len(members) == len(scoring.parties)


def agreement(deal: Deal, scoring: Scoring, policy: RulePolicy = DEFAULT_POLICY) -> Outcome:
    """Judge a deal by thresholds: which parties accept, whether it passes, unanimity."""
    accepting = tuple(p.name for p in scoring.parties if accepts(deal, p, policy))
    passes, unanimous = passes_with(set(accepting), scoring, policy)
    return Outcome(deal, accepting, passes, unanimous)


def vote_result(deal: Deal, accepting: Sequence[str], scoring: Scoring,
                policy: RulePolicy = DEFAULT_POLICY) -> Outcome:
    """Judge a deal by the parties that voted for it (same passing rule as ``agreement``)."""
    passes, unanimous = passes_with(set(accepting), scoring, policy)
    return Outcome(deal, tuple(accepting), passes, unanimous)


def payoff(deal: Deal, party: Party, scoring: Scoring,
           policy: RulePolicy = DEFAULT_POLICY) -> int:
    """A party's reported score: its score, plus p1's unanimity bonus on unanimous deals."""
    value = score(deal, party)
    if party.is_p1 and agreement(deal, scoring, policy).unanimous:
        value += UNANIMITY_BONUS
    return value


def best_deal(party: Party) -> Deal:
    """The party's own best deal; ties go to the lowest option numbers."""
    return Deal(tuple(row.index(max(row)) + 1 for row in party.scores))


def acceptance_offsets(scoring: Scoring, policy: RulePolicy = DEFAULT_POLICY) -> np.ndarray:
    """``acceptance_bonus`` of every party, in config order (for score matrices)."""
    return np.array([acceptance_bonus(p, policy) for p in scoring.parties], dtype=np.int64)


def minimums(scoring: Scoring) -> np.ndarray:
    """Every party's minimum, in config order."""
    return np.array([p.minimum for p in scoring.parties], dtype=np.int64)


def clears_array(values: np.ndarray, floor: np.ndarray,
                 policy: RulePolicy = DEFAULT_POLICY) -> np.ndarray:
    """``clears`` elementwise (values and floors broadcast)."""
    return values > floor if policy.strict else values >= floor


def strict_margin(policy: RulePolicy = DEFAULT_POLICY) -> int:
    """Integer scores clear ``>`` exactly when ``value - margin`` clears ``>=``."""
    return 1 if policy.strict else 0


def veto_mask(scoring: Scoring) -> np.ndarray:
    """Which parties (config order) hold a veto."""
    return np.array([p.has_veto for p in scoring.parties], dtype=bool)
