"""Training export: a party's turns as chat-format JSONL (SFT) and preference pairs.

Only complete sessions are read. A *sample* is one turn of a chosen party (``party_role``
matches a role such as ``p1`` or a party name; None = every party) in the phases opening,
round, final and vote (skipped votes and empty outputs are left out): messages
``system`` = the party's initial prompt, ``user`` = the turn's prompt, ``assistant`` = the raw
output, exactly as the model saw and wrote them.

Score of a response (``score_by``): ``final`` (default) = the party's final score in that
session (``final_scores``, p1's unanimity bonus included; 0 when the session ended without a
full final deal); ``deal`` = the party's own score of the deal that turn proposed (for a vote,
of the final deal; None when it proposed none, and such turns are not scored).

* ``sft`` -> ``sft.jsonl``: ``{"messages": [system, user, assistant], "metadata": {...}}`` for
  each sample whose session's final deal passes (threshold outcome; ``require_pass=False``
  drops this filter) and whose score is >= ``min_score`` (when given).
* ``preference`` -> ``preference.jsonl``: ``{"prompt": [system, user], "chosen":
  [assistant], "rejected": [assistant], "metadata": {...}}`` (TRL's conversational format).
  Samples are matched on the same game (name and content hash), party (hence role and score
  sheet), incentive, phase and turn number within that phase (k-th round turn of the party),
  and with ``same_prompt=True`` also the identical prompt. In each group, sorted by score
  (ties by session id, turn), the best is paired with the worst, the second best with the
  second worst, and so on, while the scores differ by at least ``margin``; each sample is used
  at most once. The prompt is the chosen sample's; the outcome filters apply to the chosen one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.core.phases import PARTY_PHASES, Phase
from negotiation.logs.records import PartyRecord, SessionLog, TurnRecord, write_atomic

TRAINING_FORMATS: tuple[str, ...] = ("sft", "preference")
SCORE_BY: tuple[str, ...] = ("final", "deal")


@dataclass(frozen=True)
class Sample:
    """One response with its prompt, score, outcome and matching key."""

    prompt: list[dict[str, str]]
    response: str
    score: float | None
    passes: bool
    key: tuple[Any, ...]
    metadata: dict[str, Any]


def _score(log: SessionLog, party: PartyRecord, turn: TurnRecord, score_by: str) -> float | None:
    if score_by == "deal":
        return None if turn.own_score is None else float(turn.own_score)
    return float(log.final_scores.get(party.name, 0))


def party_samples(log: SessionLog, party: PartyRecord, score_by: str = "final",
                  phases: Sequence[Phase] = PARTY_PHASES) -> list[Sample]:
    """The samples of one party in one session."""
    passes = bool(log.threshold_outcome and log.threshold_outcome.passes)
    seen: dict[str, int] = {}
    out = []
    for turn in log.turns:
        if turn.party != party.name or turn.phase not in phases or not turn.raw_output.strip():
            continue
        k = seen.get(turn.phase, 0)
        seen[turn.phase] = k + 1
        prompt = [{"role": "system", "content": party.initial_prompt},
                  {"role": "user", "content": turn.prompt}]
        digest = hashlib.sha256(json.dumps(prompt).encode()).hexdigest()[:16]
        score = _score(log, party, turn, score_by)
        meta = {"run": log.run_name, "session": log.session_id,
                "session_index": log.session_index, "game": log.game.name,
                "game_hash": log.game.content_hash, "party": party.name, "role": party.role,
                "incentive": party.incentive, "model": party.model, "phase": turn.phase,
                "turn": turn.index, "k": k, "prompt_hash": digest, "score_by": score_by,
                "score": score, "final_score": log.final_scores.get(party.name),
                "minimum": party.minimum, "own_score": turn.own_score,
                "final_passes": passes, "format_ok": turn.format_ok}
        key = (log.game.name, log.game.content_hash, party.name, party.incentive,
               turn.phase, k)
        out.append(Sample(prompt, turn.raw_output, score, passes, key, meta))
    return out


def collect_samples(logs: Iterable[SessionLog], party_role: str | None,
                    score_by: str = "final") -> list[Sample]:
    """Samples of the matching parties of every complete session, in session order."""
    if score_by not in SCORE_BY:
        raise ConfigError(f"score_by must be one of {', '.join(SCORE_BY)}")
    out: list[Sample] = []
    matched = False
    for log in sorted(logs, key=lambda lg: (lg.run_name, lg.session_index, lg.session_id)):
        parties = [p for p in log.parties if party_role in (None, p.role, p.name)]
        matched = matched or bool(parties)
        if log.status == "complete":
            out += [s for p in parties for s in party_samples(log, p, score_by)]
    if party_role is not None and not matched:
        raise ConfigError(f"--party-role {party_role!r} matches no role or party name")
    return out


def keep(sample: Sample, min_score: float | None, require_pass: bool) -> bool:
    """Whether a sample passes the outcome filters."""
    if require_pass and not sample.passes:
        return False
    return min_score is None or (sample.score is not None and sample.score >= min_score)


def sft_records(samples: Iterable[Sample], min_score: float | None = None,
                require_pass: bool = True) -> list[dict[str, Any]]:
    """Chat-format SFT records of the samples that pass the filters."""
    return [{"messages": s.prompt + [{"role": "assistant", "content": s.response}],
             "metadata": s.metadata} for s in samples if keep(s, min_score, require_pass)]


def _pair(chosen: Sample, rejected: Sample) -> dict[str, Any]:
    meta = {k: chosen.metadata[k] for k in ("game", "game_hash", "party", "role", "incentive",
                                             "phase", "k", "score_by")}
    side = ("run", "session", "turn", "model", "score", "final_score", "prompt_hash")
    meta["chosen"] = {k: chosen.metadata[k] for k in side}
    meta["rejected"] = {k: rejected.metadata[k] for k in side}
    meta["same_prompt"] = chosen.prompt == rejected.prompt
    return {"prompt": chosen.prompt,
            "chosen": [{"role": "assistant", "content": chosen.response}],
            "rejected": [{"role": "assistant", "content": rejected.response}],
            "metadata": meta}


def preference_records(samples: Iterable[Sample], min_score: float | None = None,
                       require_pass: bool = True, margin: float = 1.0,
                       same_prompt: bool = False) -> list[dict[str, Any]]:
    """Preference pairs (see the module docstring for scoring and matching)."""
    groups: dict[tuple[Any, ...], list[Sample]] = {}
    for s in samples:
        if s.score is not None:
            key = s.key + ((s.metadata["prompt_hash"],) if same_prompt else ())
            groups.setdefault(key, []).append(s)
    out = []
    for group in groups.values():
        ranked = sorted(group, key=lambda s: (-(s.score or 0.0), s.metadata["session"],
                                              s.metadata["turn"]))
        for i in range(len(ranked) // 2):
            best, worst = ranked[i], ranked[-1 - i]
            if (best.score or 0.0) - (worst.score or 0.0) < margin:
                break
            if keep(best, min_score, require_pass):
                out.append(_pair(best, worst))
    return out


def export_training(logs: Sequence[SessionLog], out: Path, fmt: str, party_role: str | None,
                    min_score: float | None, *, require_pass: bool = True,
                    score_by: str = "final", margin: float = 1.0,
                    same_prompt: bool = False) -> list[Path]:
    """Write ``sft.jsonl`` or ``preference.jsonl`` under ``out``; returns the files written."""
    if fmt not in TRAINING_FORMATS:
        raise ConfigError(f"training format must be one of {', '.join(TRAINING_FORMATS)}")
    samples = collect_samples(logs, party_role, score_by)
    if fmt == "sft":
        records = sft_records(samples, min_score, require_pass)
    else:
        records = preference_records(samples, min_score, require_pass, margin, same_prompt)
    path = out / f"{fmt}.jsonl"
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return [path]


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """The ``export`` flags of the training formats (``--format sft|preference``)."""
    p.add_argument("--party-role", help="sft/preference: the role (p1, p2, target, player) or "
                   "party name whose turns are exported (default: every party)")
    p.add_argument("--min-score", type=float, help="sft/preference: keep responses scoring "
                   "at least this (see --score-by)")
    p.add_argument("--score-by", choices=SCORE_BY, default="final", help="sft/preference: "
                   "final = the party's final score, deal = own score of the proposed deal")
    p.add_argument("--any-outcome", action="store_true", help="sft/preference: do not require "
                   "the session's final deal to pass")
    p.add_argument("--margin", type=float, default=1.0, help="preference: minimum score "
                   "difference between chosen and rejected (default 1)")
    p.add_argument("--same-prompt", action="store_true", help="preference: pair only "
                   "responses to identical prompts")


def export_training_cli(args: argparse.Namespace, logs: Sequence[SessionLog]) -> int:
    """``export --format sft|preference``: write the file and say how many records."""
    written = export_training(logs, args.out, args.format, args.party_role, args.min_score,
                              require_pass=not args.any_outcome, score_by=args.score_by,
                              margin=args.margin, same_prompt=args.same_prompt)
    count = sum(1 for _ in written[0].open(encoding="utf-8"))
    print(f"wrote {count} {args.format} record(s) to {written[0]}")
    return 0
