"""Readers of the paper code's two log formats (``history*.json`` and ``answers*.json``).

* ``ld-history``: ``slot_assignment`` (speaker per round), ``rounds`` of ``{agent, prompt,
  full_answer, public_answer}`` (first p1's opening, last p1's final proposal), ``plan``,
  ``finished_rounds``; complete when ``len(rounds) == len(slot_assignment) + 2`` (``--rounds R``:
  R + 2). Scratchpads and format records come from parsing ``full_answer``.
* ``ld-answers``: ``rounds`` of ``[party, public answer]`` (first p1's opening),
  ``voting_sessions["0"]["deal_suggestion"]`` (p1's final proposal; absent when unfinished) and
  optional ``votes``; no scratchpads, no parse records, no tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evaluation.sessiondata import (
    Ballot,
    ReadError,
    ReadOptions,
    SessionData,
    Utterance,
    check_speakers,
)
from negotiation.core.game import Scoring
from negotiation.core.phases import Phase
from negotiation.protocol.parsing import parse_output, parse_vote


def _history_utterance(i: int, entry: Any, last: int, scoring: Scoring,
                       path: Path) -> Utterance:
    if not isinstance(entry, dict) or not isinstance(entry.get("agent"), str):
        raise ReadError(path, f"rounds[{i}] is not an object with an 'agent'")
    public = entry.get("public_answer")
    if not isinstance(public, str):
        raise ReadError(path, f"rounds[{i}] has no text 'public_answer'")
    phase = Phase.OPENING if i == 0 else Phase.FINAL if i == last else Phase.ROUND
    full = entry.get("full_answer")
    scratchpad, format_ok = "", None
    if isinstance(full, str):
        others = [p.name for p in scoring.parties if p.name != entry["agent"]]
        parsed = parse_output(full, scoring.issues, others)
        scratchpad, format_ok = parsed.scratchpad, parsed.format_ok
    return Utterance(i, entry["agent"], phase, public, scratchpad, format_ok)


def read_history(path: Path, data: dict[str, Any], scoring: Scoring,
                 options: ReadOptions) -> SessionData:
    """A paper-code ``history*.json`` log (complete when it has rounds + 2 entries)."""
    slots, rounds = data.get("slot_assignment"), data["rounds"]
    if not isinstance(slots, list) or not all(isinstance(s, str) for s in slots):
        raise ReadError(path, "'slot_assignment' is not a list of party names")
    expected = (options.rounds if options.rounds is not None else len(slots)) + 2
    complete = len(rounds) == expected
    last = len(rounds) - 1 if complete else -1
    utterances = tuple(_history_utterance(i, e, last, scoring, path) for i, e in enumerate(rounds))
    check_speakers(path, scoring, list(slots) + [u.party for u in utterances])
    return SessionData(path, "ld-history", scoring, complete, utterances,
                       models={p.name: p.model for p in scoring.parties})


def _old_ballots(path: Path, votes: Any, scoring: Scoring) -> tuple[Ballot, ...]:
    """Votes of an old log: ``[[party, text], …]``, ``[{party|agent|name, vote}, …]`` or
    ``{party: text}``; anything else is ignored (the format never fixed it)."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(votes, dict):
        pairs = list(votes.items())
    elif isinstance(votes, list):
        for v in votes:
            if isinstance(v, list | tuple) and len(v) == 2:
                pairs.append((v[0], v[1]))
            elif isinstance(v, dict):
                pairs.append((v.get("party") or v.get("agent") or v.get("name"), v.get("vote")))
    pairs = [(p, t) for p, t in pairs if isinstance(p, str) and isinstance(t, str)]
    check_speakers(path, scoring, [p for p, _ in pairs])
    return tuple(Ballot(p, parse_vote(t).vote) for p, t in pairs)


def read_answers(path: Path, data: dict[str, Any], scoring: Scoring) -> SessionData:
    """A paper-code ``answers*.json`` log (complete when p1's final suggestion is recorded)."""
    utterances: list[Utterance] = []
    for i, entry in enumerate(data["rounds"]):
        if len(entry) != 2 or not all(isinstance(x, str) for x in entry):
            raise ReadError(path, f"rounds[{i}] is not a [party, public answer] pair")
        utterances.append(Utterance(i, entry[0], Phase.OPENING if i == 0 else Phase.ROUND,
                                    entry[1]))
    voting = data.get("voting_sessions")
    first = voting.get("0") if isinstance(voting, dict) else None
    final = first.get("deal_suggestion") if isinstance(first, dict) else None
    ballots: tuple[Ballot, ...] = ()
    if isinstance(final, str):
        utterances.append(Utterance(len(utterances), scoring.proposer.name, Phase.FINAL,
                                    final))
        ballots = _old_ballots(path, first.get("votes"), scoring)  # type: ignore[union-attr]
    check_speakers(path, scoring, [u.party for u in utterances])
    return SessionData(path, "ld-answers", scoring, isinstance(final, str), tuple(utterances),
                       ballots, models={p.name: p.model for p in scoring.parties})
