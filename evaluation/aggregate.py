"""Per-run aggregation: session results -> the JSON contract of ``evaluate --json``.

``evaluate_run`` computes a ``SessionResult`` per complete session (outcome metrics, score
fidelity, leakage, tokens); ``summarize`` turns a run's results into one JSON entry (key names
documented in docs/metrics.md): rates are ``{k, n, rate, ci95}`` with Wilson intervals
(``rate``/``ci95`` null when n = 0), means ``{mean, ci95, n}`` with a seeded percentile
bootstrap over sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from evaluation.fidelity import arithmetic, format_failures_by_party, vote_consistency
from evaluation.leakage import JudgeCache, JudgeItem, detect_leak, judge_messages
from evaluation.metrics import SessionMetrics, session_metrics
from evaluation.readers import RunData, SessionData
from evaluation.rulesets import RuleSet
from evaluation.stats import bootstrap_diff_ci, mean_summary, rate
from negotiation.core.game import PROPOSER_ROLE

Counts = Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class SessionResult:
    """Everything measured on one complete session."""

    data: SessionData
    metrics: SessionMetrics
    arithmetic: tuple[int, int]
    votes: tuple[int, int]
    formats: Counts
    leaks: Counts
    """Party -> (leaked public messages, public messages) by the deterministic detector."""
    echoes: Counts
    """Party -> (answers repeating the template's placeholders, answers with a prompt)."""
    tokens: Counts
    """Party -> (input tokens, output tokens)."""
    judge: Counts | None = None
    """Party -> (leaked, judged) by the LLM judge, when one ran."""


@dataclass(frozen=True)
class EvalOptions:
    """How to evaluate: rule set, adversary override, bootstrap seed."""

    rules: RuleSet
    adversary: str | None = None
    seed: int = 0
    baseline_adversaries: Collection[str] | None = field(default=None)


def _per_party(session: SessionData,
               flags: Sequence[tuple[str, bool | None]]) -> dict[str, tuple[int, int]]:
    out = {p.name: (0, 0) for p in session.scoring.parties}
    for party, flag in flags:
        if flag is None:
            continue
        k, n = out[party]
        out[party] = (k + int(flag), n + 1)
    return out


def _tokens(session: SessionData) -> dict[str, tuple[int, int]]:
    out = {p.name: (0, 0) for p in session.scoring.parties}
    for item in (*session.utterances, *session.ballots):
        i, o = out[item.party]
        out[item.party] = (i + item.input_tokens, o + item.output_tokens)
    return out


def evaluate_session(session: SessionData, options: EvalOptions) -> SessionResult:
    """All per-session measurements under the options' rule set."""
    scoring = session.scoring
    leaks = [(u.party, detect_leak(u.public, scoring.party(u.party), scoring))
             for u in session.utterances]
    return SessionResult(
        session,
        session_metrics(session, options.rules, options.adversary, options.baseline_adversaries),
        arithmetic(session), vote_consistency(session, options.rules),
        format_failures_by_party(session), _per_party(session, leaks),
        _per_party(session, [(u.party, u.echo) for u in session.utterances]), _tokens(session))


def evaluate_run(run: RunData, options: EvalOptions) -> list[SessionResult]:
    """Results of every complete session; an unknown ``--adversary`` is a per-file error."""
    results = []
    for session in run.complete:
        names = {p.name for p in session.scoring.parties}
        if options.adversary is not None and options.adversary not in names:
            run.errors.append({"path": str(session.source), "error": f"--adversary "
                               f"{options.adversary!r} is not a party of {session.scoring.name}"})
            continue
        results.append(evaluate_session(session, options))
    return results


def apply_judge(results: list[SessionResult], spec: str,
                cache: JudgeCache) -> tuple[list[SessionResult], dict[str, int]]:
    """Label every public message with the LLM judge; per-party counts on each result."""
    items = [(r, u.party, JudgeItem(r.data.scoring.party(u.party), u.public))
             for r in results for u in r.data.utterances]
    report = judge_messages([i for _, _, i in items], spec, cache)
    flags: dict[int, list[tuple[str, bool | None]]] = {id(r): [] for r in results}
    for (result, party, _), label in zip(items, report.labels):
        flags[id(result)].append((party, label))
    out = [replace(r, judge=_per_party(r.data, flags[id(r)])) for r in results]
    return out, {"requests": report.requests, "failures": report.failures,
                 "cache_error": report.cache_error}


def _sum(counts: Sequence[Counts], parties: Collection[str] | None = None) -> tuple[int, int]:
    pairs = [v for c in counts for name, v in c.items() if parties is None or name in parties]
    return sum(k for k, _ in pairs), sum(n for _, n in pairs)


def curve_summary(curves: Sequence[Sequence[float | None] | None]) -> list[dict[str, Any]]:
    """Per turn index: n, mean and (population) std over the sessions that have a value."""
    length = max((len(c) for c in curves if c is not None), default=0)
    out = []
    for turn in range(length):
        values = [c[turn] for c in curves if c is not None and turn < len(c)]
        data = np.array([v for v in values if v is not None], dtype=np.float64)
        out.append({"turn": turn, "n": int(data.size),
                    "mean": float(data.mean()) if data.size else None,
                    "std": float(data.std()) if data.size else None})
    return out


def _flag_rate(results: Sequence[SessionResult],
               get: Callable[[SessionMetrics], bool | None]) -> dict[str, Any]:
    values = [get(r.metrics) for r in results]
    known = [v for v in values if v is not None]
    return rate(sum(known), len(known))


def _final_scores(results: Sequence[SessionResult], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for result in results:
        for party in result.data.scoring.parties:
            entry = out.setdefault(party.name, {"role": party.role, "minimum": party.minimum,
                                                "values": []})
            finals = result.metrics.final_scores
            entry["values"].append(finals.get(party.name) if finals else None)
    for entry in out.values():
        values = [v for v in entry.pop("values") if v is not None]
        entry.update(mean_summary(values, seed))
        entry["std"] = float(np.std(values)) if values else None
    return out


def _leakage(results: Sequence[SessionResult], judged: bool) -> dict[str, Any]:
    counts = [(r.judge or {}) if judged else r.leaks for r in results]
    parties = sorted({name for c in counts for name in c})
    return {"messages": rate(*_sum(counts)),
            "per_party": {p: rate(*_sum(counts, {p})) for p in parties}}


def _adversarial(results: Sequence[SessionResult], seed: int) -> dict[str, Any]:
    target = next((r.metrics.target for r in results if r.metrics.target), None)
    return {"adversaries": sorted({a for r in results for a in r.metrics.adversaries}),
            "target": target,
            "target_score_p1_deals": mean_summary([r.metrics.target_score for r in results], seed),
            "target_curve": curve_summary([r.metrics.target_curve for r in results]),
            "target_minimum": next((r.data.scoring.party(target).minimum for r in results
                                    if target in {p.name for p in r.data.scoring.parties}), None)}


def _session_row(r: SessionResult) -> dict[str, Any]:
    m = r.metrics
    return {"source": str(r.data.source), "seed": r.data.seed,
            "session_index": r.data.session_index, "final_deal": m.final_deal,
            "final_success": m.final_success, "unanimous_success": m.unanimous_success,
            "any_success": m.any_success, "vote_success": m.vote_success,
            "adversarial_success": m.adversarial_success, "n_deals": m.n_deals,
            "n_wrong": m.n_wrong, "wrong_deal_ratio": m.wrong_ratio,
            "final_accepting": list(m.final_accepting),
            "final_scores": dict(m.final_scores) if m.final_scores else None}


def _curves(results: Sequence[SessionResult]) -> dict[str, Any]:
    first = results[0].data if results else None
    return {PROPOSER_ROLE: first.proposer if first else None,
            "p1_minimum": first.scoring.proposer.minimum if first else None,
            "own": curve_summary([r.metrics.own_curve for r in results]),
            "collective": curve_summary([r.metrics.collective_curve for r in results])}


def _header(run: RunData, results: Sequence[SessionResult], rules: str) -> dict[str, Any]:
    return {
        "path": str(run.path), "format": run.format, "rules": rules,
        "formats": {f: sum(1 for s in run.sessions if s.format == f)
                    for f in sorted({s.format for s in run.sessions})},
        "games": sorted({r.data.scoring.name for r in results}),
        "p1_models": sorted({r.data.p1_model for r in results}),
        "structured": sorted({m for r in results for m in r.data.structured.values()}),
        "n_sessions": len(results), "n_unfinished": run.n_unfinished,
        "unfinished": [str(s.source) for s in run.sessions if not s.complete],
        "errors": list(run.errors)}


def _outcomes(results: Sequence[SessionResult], seed: int) -> dict[str, Any]:
    return {
        "final_success": _flag_rate(results, lambda m: m.final_success),
        "unanimous_success": _flag_rate(results, lambda m: m.unanimous_success),
        "any_success": _flag_rate(results, lambda m: m.any_success),
        "wrong_deal_ratio": mean_summary([r.metrics.wrong_ratio for r in results], seed),
        "deals_per_session": mean_summary([r.metrics.n_deals for r in results], seed),
        "score_curves": _curves(results),
        "final_scores": _final_scores(results, seed),
        "gap_to_best": {"welfare": mean_summary([r.metrics.welfare_gap for r in results], seed),
                        "nash": mean_summary([r.metrics.nash_gap for r in results], seed)}}


def _fidelity(results: Sequence[SessionResult]) -> dict[str, Any]:
    def total(pairs: list[tuple[int, int]]) -> dict[str, Any]:
        return rate(sum(k for k, _ in pairs), sum(n for _, n in pairs))

    return {"arithmetic_accuracy": total([r.arithmetic for r in results]),
            "vote_consistency": total([r.votes for r in results]),
            "format_failure": rate(*_sum([r.formats for r in results])),
            "template_echo": rate(*_sum([r.echoes for r in results]))}


def summarize(run: RunData, results: Sequence[SessionResult], options: EvalOptions,
              judge: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON entry of one run (see docs/metrics.md for every key)."""
    entry = {**_header(run, results, options.rules.name), **_outcomes(results, options.seed),
             "score_fidelity": _fidelity(results),
             "leakage": {"detector": _leakage(results, judged=False)},
             "tokens": _token_summary(results, options.seed),
             "sessions": [_session_row(r) for r in results]}
    if any(r.metrics.vote_success is not None for r in results):
        entry["vote_success"] = _flag_rate(results, lambda m: m.vote_success)
    if any(r.metrics.adversaries for r in results):
        entry["adversarial_success"] = _flag_rate(results, lambda m: m.adversarial_success)
        entry["adversarial"] = _adversarial(results, options.seed)
    if judge is not None:
        entry["leakage"]["judge"] = {**_leakage(results, judged=True), **judge}
    return entry


def _token_summary(results: Sequence[SessionResult], seed: int) -> dict[str, Any]:
    totals = [_sum([r.tokens]) for r in results]
    return {"input": sum(i for i, _ in totals), "output": sum(o for _, o in totals),
            "per_session": mean_summary([i + o for i, o in totals], seed)}


DROP_METRICS: dict[str, Callable[[SessionResult], float | None]] = {
    "final_success": lambda r: float(r.metrics.final_success),
    "unanimous_success": lambda r: float(r.metrics.unanimous_success),
    "any_success": lambda r: float(r.metrics.any_success),
    "adversarial_success": lambda r: (None if r.metrics.adversarial_success is None
                                      else float(r.metrics.adversarial_success)),
    "target_score_p1_deals": lambda r: r.metrics.target_score,
    "p1_final_score": lambda r: (None if not r.metrics.final_scores
                                 else float(r.metrics.final_scores[r.data.proposer])),
}


def baseline_drop(results: Sequence[SessionResult], base: Sequence[SessionResult],
                  seed: int = 0) -> dict[str, Any]:
    """Baseline minus run for each metric, with a bootstrap CI (paired by game, seed and
    session index when both runs hold exactly the same keys, else independent)."""
    keys = [r.data.pair_key() for r in results]
    base_keys = [r.data.pair_key() for r in base]
    paired = bool(keys) and len(set(keys)) == len(keys) and set(keys) == set(base_keys) \
        and len(set(base_keys)) == len(base_keys)
    by_key = {r.data.pair_key(): r for r in base}
    drops: dict[str, Any] = {}
    for name, get in DROP_METRICS.items():
        if paired:
            pairs = [(get(by_key[r.data.pair_key()]), get(r)) for r in results]
            pairs = [(b, a) for b, a in pairs if a is not None and b is not None]
            b_vals, r_vals = [b for b, _ in pairs], [a for _, a in pairs]
        else:
            b_vals = [v for v in map(get, base) if v is not None]
            r_vals = [v for v in map(get, results) if v is not None]
        if not b_vals or not r_vals:
            continue
        interval = bootstrap_diff_ci(b_vals, r_vals, paired, seed)
        drops[name] = {"baseline": float(np.mean(b_vals)), "run": float(np.mean(r_vals)),
                       "drop": float(np.mean(b_vals) - np.mean(r_vals)), "n": len(r_vals),
                       "ci95": list(interval) if interval else None}
    return {"paired": paired, "n_baseline_sessions": len(base), "drop": drops}
