"""Score fidelity (beyond the paper): do parties compute, vote and format correctly?

* arithmetic accuracy: a scratchpad clause that names a full deal (one option of every issue)
  followed by a number in a score context (``= 47``, ``is 45``, ``score … 60``) states that
  deal's score; it is correct when the number equals the party's true score (for p1 also the
  score + 10 of its unanimity bonus). Returns (correct, statements).
* vote consistency: a vote is inconsistent when a party votes ACCEPT on a final deal below
  its minimum or REJECT on one above it (at exactly the minimum either vote is consistent).
  Unreadable votes are not judged. Returns (consistent, judged votes).
* format failures: outputs (turns and votes) whose parse record says the format was not
  followed; only outputs with a parse record count (old ``answers`` logs have none).
  Returns (failures, outputs) overall or per party.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from evaluation.readers import SessionData
from evaluation.rulesets import RuleSet
from negotiation.core.game import Deal, Issue
from negotiation.core.rules import UNANIMITY_BONUS, score

_CLAUSE = re.compile(r"\n|[.;!?](?!\d)")
_OPTION = re.compile(r"(?<![A-Za-z0-9])([A-Z])\s?([1-9])(?![0-9])")
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])(-?[0-9]{1,4})(?![0-9%])")
_SCORE_WORDS = re.compile(r"score|point|pts|total|worth|sum|gives|yields|value|utility|=", re.I)


def stated_scores(scratchpad: str, issues: Sequence[Issue]) -> list[tuple[Deal, int]]:
    """(deal, stated score) pairs found in a scratchpad (see the module docstring)."""
    sizes = {i.letter: i.n_options for i in issues}
    found: list[tuple[Deal, int]] = []
    for clause in _CLAUSE.split(scratchpad):
        tokens = [m for m in _OPTION.finditer(clause) if m.group(1) in sizes]
        chosen: dict[str, set[int]] = {}
        for m in tokens:
            chosen.setdefault(m.group(1), set()).add(int(m.group(2)))
        if set(chosen) != set(sizes) or any(len(v) != 1 for v in chosen.values()):
            continue
        options = tuple(next(iter(chosen[i.letter])) for i in issues)
        if any(k > i.n_options for k, i in zip(options, issues)):
            continue
        rest = clause[tokens[-1].end():]
        if not _SCORE_WORDS.search(rest) and not _SCORE_WORDS.search(clause[:tokens[0].start()]):
            continue
        tail = rest.rsplit("=", 1)[1] if "=" in rest else rest
        number = _NUMBER.search(tail)
        if number is not None:
            found.append((Deal(options), int(number.group(1))))
    return found


def arithmetic(session: SessionData) -> tuple[int, int]:
    """(correct, stated) scores of deals stated in the session's scratchpads."""
    scoring = session.scoring
    correct = total = 0
    for u in session.utterances:
        if not u.scratchpad:
            continue
        party = scoring.party(u.party)
        for deal, stated in stated_scores(u.scratchpad, scoring.issues):
            true = score(deal, party)
            ok = stated == true or (party.name == session.proposer
                                    and stated == true + UNANIMITY_BONUS)
            correct += int(ok)
            total += 1
    return correct, total


def vote_consistency(session: SessionData, rules: RuleSet) -> tuple[int, int]:
    """(consistent, judged) votes on p1's final deal."""
    final = session.final
    if final is None or not session.ballots:
        return 0, 0
    view = rules.read_final(final.public, session.scoring)
    if view is None or not view.full:
        return 0, 0
    values = rules.scores(view, session.scoring)
    consistent = judged = 0
    for ballot in session.ballots:
        if ballot.vote not in ("ACCEPT", "REJECT"):
            continue
        minimum = session.scoring.party(ballot.party).minimum
        value = values[ballot.party]
        bad = (ballot.vote == "ACCEPT" and value < minimum) or \
            (ballot.vote == "REJECT" and value > minimum)
        consistent += int(not bad)
        judged += 1
    return consistent, judged


def format_failures_by_party(session: SessionData) -> dict[str, tuple[int, int]]:
    """Party -> (outputs that broke the format, outputs with a parse record)."""
    out = {p.name: (0, 0) for p in session.scoring.parties}
    records = [(u.party, u.format_ok) for u in session.utterances]
    records += [(b.party, b.format_ok) for b in session.ballots]
    for party, ok in records:
        if ok is None:
            continue
        failed, total = out[party]
        out[party] = (failed + int(not ok), total + 1)
    return out


def format_failures(session: SessionData) -> tuple[int, int]:
    """(failures, outputs with a parse record) over the whole session."""
    per_party = format_failures_by_party(session).values()
    return sum(f for f, _ in per_party), sum(n for _, n in per_party)
