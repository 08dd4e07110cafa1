"""Human-readable and CSV renderings of the per-run JSON entries of ``evaluate``."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

RATE_KEYS: tuple[str, ...] = ("final_success", "unanimous_success", "any_success",
                              "vote_success", "adversarial_success")


def _rate_text(value: dict[str, Any] | None) -> str:
    if not value:
        return "-"
    if value["rate"] is None:
        return f"{value['k']}/{value['n']}  n/a"
    lo, hi = value["ci95"]
    return f"{value['k']}/{value['n']}  {value['rate']:.3f} [{lo:.3f}, {hi:.3f}]"


def _mean_text(value: dict[str, Any] | None, digits: int = 3) -> str:
    if not value or value["mean"] is None:
        return "-"
    ci = value["ci95"]
    return f"{value['mean']:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}] (n={value['n']})"


def run_text(entry: dict[str, Any]) -> str:
    """A short report of one run entry."""
    lines = [f"== {entry['path']} ({entry['format']}, rules {entry['rules']}) ==",
             f"sessions: {entry['n_sessions']} complete, {entry['n_unfinished']} unfinished, "
             f"{len(entry['errors'])} file error(s)"]
    for key in RATE_KEYS:
        if key in entry:
            lines.append(f"  {key:<22} {_rate_text(entry[key])}")
    lines.append(f"  {'wrong_deal_ratio':<22} {_mean_text(entry['wrong_deal_ratio'])}")
    gap = entry["gap_to_best"]
    lines.append(f"  {'welfare gap':<22} {_mean_text(gap['welfare'], 1)}")
    lines.append(f"  {'nash gap':<22} {_mean_text(gap['nash'])}")
    fidelity = entry["score_fidelity"]
    for key in ("arithmetic_accuracy", "vote_consistency", "format_failure", "template_echo"):
        lines.append(f"  {key:<22} {_rate_text(fidelity[key])}")
    lines.append(f"  {'leakage (detector)':<22} "
                 f"{_rate_text(entry['leakage']['detector']['messages'])}")
    if "judge" in entry["leakage"]:
        judged = entry["leakage"]["judge"]["messages"]
        lines.append(f"  {'leakage (judge)':<22} {_rate_text(judged)}")
    if "adversarial" in entry:
        adv = entry["adversarial"]
        lines.append(f"  target {adv['target']}: score in p1's deals "
                     f"{_mean_text(adv['target_score_p1_deals'], 1)}")
    for name, drop in entry.get("baseline", {}).get("drop", {}).items():
        ci = drop["ci95"]
        lines.append(f"  drop vs baseline {name:<22} {drop['drop']:+.3f}"
                     + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""))
    return "\n".join(lines)


def _flat(prefix: str, value: Any, row: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        return
    if "k" in value and "n" in value:
        ci = value.get("ci95") or [None, None]
        row.update({f"{prefix}_k": value["k"], f"{prefix}_n": value["n"],
                    f"{prefix}_rate": value["rate"], f"{prefix}_ci_lo": ci[0],
                    f"{prefix}_ci_hi": ci[1]})
    elif "mean" in value and "ci95" in value:
        ci = value.get("ci95") or [None, None]
        row.update({f"{prefix}_mean": value["mean"], f"{prefix}_ci_lo": ci[0],
                    f"{prefix}_ci_hi": ci[1]})


def csv_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One flat CSV row of a run entry (scalars only)."""
    row: dict[str, Any] = {k: entry[k] for k in ("path", "format", "rules", "n_sessions",
                                                 "n_unfinished")}
    row["n_errors"] = len(entry["errors"])
    for key in (*RATE_KEYS, "wrong_deal_ratio", "deals_per_session"):
        _flat(key, entry.get(key), row)
    for key, value in entry["gap_to_best"].items():
        _flat(f"gap_{key}", value, row)
    for key, value in entry["score_fidelity"].items():
        _flat(key, value, row)
    _flat("leakage", entry["leakage"]["detector"]["messages"], row)
    if "judge" in entry["leakage"]:
        _flat("leakage_judge", entry["leakage"]["judge"]["messages"], row)
    row["tokens_input"], row["tokens_output"] = entry["tokens"]["input"], entry["tokens"]["output"]
    return row


def csv_text(entries: Sequence[dict[str, Any]]) -> str:
    """CSV with one row per run (columns: the union over runs, in first-seen order)."""
    rows = [csv_row(e) for e in entries]
    header = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
