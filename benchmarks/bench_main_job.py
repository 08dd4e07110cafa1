"""The main job on the embedded model, structured ``auto`` (grammar) against ``off`` (free text).

Runs ``python main.py --game base`` (the README's main job, every default kept) once per seed and
mode in a fresh subprocess, reads each session log with the one loader and prints, per mode:
wall time, share of party turns with ``format_ok``, template echoes, sessions with a final deal
and with a passing final deal, prompt tokens evaluated (the KV-cache miss llama.cpp measured),
output tokens, and milliseconds per output token; then the ratios auto/off and the grammar
overhead per token (ms/token under the grammar minus ms/token free, a rough figure: answers of
different lengths have different prompt costs inside their latency).

    python benchmarks/bench_main_job.py                    # 3 seeds x {auto, off}: >1 h on 2 cores
    python benchmarks/bench_main_job.py --seeds 0 --modes auto
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from negotiation.logs.reading import load_logs  # noqa: E402
from negotiation.logs.records import SessionLog  # noqa: E402
from negotiation.protocol.echo import template_echo  # noqa: E402


@dataclass(frozen=True)
class Session:
    """What one main-job session measured."""

    mode: str
    seed: int
    wall_s: float
    log: SessionLog

    def party_turns(self) -> list:
        return [t for t in self.log.turns if t.phase.is_party and t.finish_reason != "skipped"]

    def echoes(self) -> int:
        return sum(template_echo(t.prompt, t.public, t.scratchpad, t.plan, t.deal, t.phase)
                   for t in self.log.turns if t.phase.is_public)

    def evaluated(self) -> int:
        return sum(int(t.extra.get("prompt_tokens_evaluated", t.input_tokens))
                   for t in self.log.turns)


def run_one(mode: str, seed: int, out: Path) -> Session:
    """One default main-job session in a subprocess (nothing warm from an earlier one)."""
    name = f"{mode}-seed{seed}"
    command = [sys.executable, str(ROOT / "main.py"), "--game", "base", "--seed", str(seed),
               "--structured", mode, "--quiet", "--out", str(out), "--name", name]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    logs = load_logs(out / name).logs
    if len(logs) != 1:
        raise SystemExit(f"expected one session log in {out / name}, found {len(logs)}")
    return Session(mode, seed, wall, logs[0])


def summarise(sessions: list[Session]) -> dict[str, float]:
    """The per-mode figures (means over sessions, shares over turns)."""
    turns = [t for s in sessions for t in s.party_turns()]
    out_tokens = sum(t.output_tokens for t in turns)
    latency = sum(t.latency_s for t in turns)
    return {
        "wall_s": sum(s.wall_s for s in sessions) / len(sessions),
        "format_ok": sum(t.format_ok for t in turns) / max(1, len(turns)),
        "echoes": sum(s.echoes() for s in sessions) / len(sessions),
        "final_deal": sum(s.log.final_deal is not None for s in sessions) / len(sessions),
        "passing": sum(bool(s.log.threshold_outcome and s.log.threshold_outcome.passes)
                       for s in sessions) / len(sessions),
        "evaluated": sum(s.evaluated() for s in sessions) / len(sessions),
        "out_tokens": out_tokens / len(sessions),
        "ms_per_token": 1000 * latency / max(1, out_tokens),
        "cut": sum(t.finish_reason == "length" for t in turns) / len(sessions),
    }


ROWS = (("wall_s", "wall time per session (s)", "{:.0f}"),
        ("format_ok", "party turns with format_ok", "{:.0%}"),
        ("echoes", "template echoes per session", "{:.1f}"),
        ("final_deal", "sessions with a final deal", "{:.0%}"),
        ("passing", "sessions whose final deal passes", "{:.0%}"),
        ("evaluated", "prompt tokens evaluated per session", "{:,.0f}"),
        ("out_tokens", "output tokens per session", "{:,.0f}"),
        ("ms_per_token", "ms per output token (latency / tokens)", "{:.1f}"),
        ("cut", "party turns cut at max_tokens per session", "{:.1f}"))


def report(figures: dict[str, dict[str, float]]) -> None:
    """Print one column per mode, then the ratios."""
    modes = list(figures)
    print(f"{'':44}" + "".join(f"{m:>12}" for m in modes))
    for key, label, fmt in ROWS:
        print(f"{label:44}" + "".join(f"{fmt.format(figures[m][key]):>12}" for m in modes))
    if {"auto", "off"} <= set(figures):
        a, o = figures["auto"], figures["off"]
        print(f"wall time auto/off: {a['wall_s'] / o['wall_s']:.2f}x; prompt tokens evaluated "
              f"auto/off: {a['evaluated'] / max(1, o['evaluated']):.2f}x; grammar overhead "
              f"{a['ms_per_token'] - o['ms_per_token']:+.1f} ms per output token")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--modes", nargs="+", default=["auto", "off"])
    args = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes:
            sessions = []
            for seed in args.seeds:
                session = run_one(mode, seed, Path(tmp))
                print(f"# {mode} seed {seed}: {session.wall_s:.0f} s", flush=True)
                sessions.append(session)
            figures[mode] = summarise(sessions)
    print(f"# main job (python main.py --game base), seeds {args.seeds}")
    report(figures)


if __name__ == "__main__":
    main()
