#!/usr/bin/env python
"""Local-model benchmark: the embedded ``llamacpp:smollm2`` on 3 concurrent sessions of ``base``
(rounds 3, vote off, max_tokens 32), through the sweep runner.

Measures
* prompt tokens evaluated with per-party KV reuse (the backend's saved state per
  ``cache_key``) against two baselines on the same sessions: *no reuse* (the context is reset
  before every call, so each call evaluates its whole prompt: ``prompt_tokens_evaluated ==
  input_tokens``) and *prefix only* (llama-cpp-python's own behaviour: reuse the longest common
  prefix with whatever sequence the context holds, no saved states). The backend has no switch
  to turn reuse off (``NEGOTIATION_LLAMACPP_MAX_STATES`` must be >= 1), so both baselines patch
  ``_Engine.switch_to`` in this process;
* resident memory: RSS before the model is loaded, after loading, after the sessions (with their
  saved KV states), against the GGUF file size, and how many engines (resident models) exist;
* throughput: 3 sessions at concurrency 3 against the same 3 sessions strictly one request at a
  time (concurrency 1), as generated tokens/s and prompt+generated tokens/s.

Run from the repository root::

    python benchmarks/bench_local.py            # 2 repetitions of each throughput mode
    python benchmarks/bench_local.py --quick    # 1 repetition
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GAME = ROOT / "games_descriptions" / "base"
SESSIONS, ROUNDS, MAX_TOKENS = 3, 3, 32


def rss_mb() -> float:
    """Resident set size of this process (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_breakdown_mb() -> dict[str, float]:
    """RssAnon / RssFile (file-backed: the mmap'ed GGUF) of this process, MB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("RssAnon:", "RssFile:")):
            out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out


def make_plan(out: Path, concurrency: int) -> Any:
    from negotiation.backends.base import GenerateConfig
    from negotiation.plan import ExperimentPlan, SessionSpec
    from negotiation.session import RunSettings

    settings = RunSettings(model="llamacpp:smollm2", rounds=ROUNDS, vote=False, seed=7,
                           generation=GenerateConfig(max_tokens=MAX_TOKENS))
    specs = tuple(SessionSpec(game=GAME, settings=settings, index=i, label=f"s{i}")
                  for i in range(SESSIONS))
    return ExperimentPlan(name="local", out=out, sessions=specs, concurrency=concurrency)


def engine() -> Any:
    from negotiation.backends.llamacpp_backend import get_engine, resolve_model_path

    return get_engine(resolve_model_path("smollm2"))


def cold_engine() -> None:
    """Forget saved states and the context, so every run starts alike (same session ids)."""
    e = engine()
    with e.lock:
        e._states.clear()  # noqa: SLF001 - benchmark reaches into the backend on purpose
        e._owner = None  # noqa: SLF001
        e.llm.reset()


@contextlib.contextmanager
def reuse_mode(mode: str) -> Iterator[None]:
    """``kv`` (as shipped), ``prefix`` (no saved states) or ``none`` (reset before each call)."""
    from negotiation.backends.llamacpp_backend import _Engine

    original = _Engine.switch_to
    if mode == "prefix":
        _Engine.switch_to = lambda self, key: None  # type: ignore[method-assign]
    elif mode == "none":
        _Engine.switch_to = lambda self, key: self.llm.reset()  # type: ignore[method-assign]
    try:
        yield
    finally:
        _Engine.switch_to = original  # type: ignore[method-assign]


def run(concurrency: int, mode: str = "kv") -> dict[str, Any]:
    from negotiation.sweep import run_plan

    cold_engine()
    out = Path(tempfile.mkdtemp(prefix="bench_local_"))
    try:
        with reuse_mode(mode):
            started = time.perf_counter()
            jobs, summary = run_plan(make_plan(out, concurrency))
            wall = time.perf_counter() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)
    turns = [t for j in jobs for t in j.log.turns]
    if summary["completed"] != SESSIONS:
        errors = {j.log.error for j in jobs if j.log.error}
        raise SystemExit(f"only {summary['completed']}/{SESSIONS} sessions completed: {errors}")
    return {
        "wall": wall, "calls": len(turns),
        "input": sum(t.input_tokens for t in turns),
        "evaluated": sum(int(t.extra.get("prompt_tokens_evaluated", 0)) for t in turns),
        "output": sum(t.output_tokens for t in turns),
        "per_call": [(t.input_tokens, int(t.extra.get("prompt_tokens_evaluated", 0)))
                     for t in sorted(turns, key=lambda t: t.index)],
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition per throughput mode")
    parser.add_argument("--reps", type=int, help="repetitions per throughput mode (default 2)")
    args = parser.parse_args()
    reps = args.reps or (1 if args.quick else 2)

    import logging

    logging.disable(logging.WARNING)
    from negotiation.backends import llamacpp_backend
    from negotiation.backends.llamacpp_backend import resolve_model_path

    gguf = resolve_model_path("smollm2")
    gguf_mb = gguf.stat().st_size / 1e6 / 1.048576
    import llama_cpp  # noqa: F401 - its import cost is not the model's

    print(f"model {gguf.name} ({gguf_mb:.1f} MB); {SESSIONS} sessions of base, rounds {ROUNDS}, "
          f"vote off, max_tokens {MAX_TOKENS}; {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.2f}")
    rss_before = rss_mb()
    started = time.perf_counter()
    e = engine()
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()
    print(f"model load {load_s:.2f} s; n_ctx {e.n_ctx}; max saved states "
          f"{e._max_states}")  # noqa: SLF001

    # -- prompt tokens evaluated -----------------------------------------------------------
    kv = run(SESSIONS, "kv")
    rss_after = rss_mb()
    breakdown = rss_breakdown_mb()
    engines = len(llamacpp_backend._ENGINES)  # noqa: SLF001
    states = len(e._states)  # noqa: SLF001
    state_mb = sum(s.llama_state_size for s in e._states.values()) / 2**20  # noqa: SLF001
    prefix = run(SESSIONS, "prefix")
    none = run(SESSIONS, "none")
    print(f"\nprompt tokens over {kv['calls']} calls (3 concurrent sessions):")
    print(f"  no reuse (context reset per call)   evaluated {none['evaluated']:6d} of "
          f"{none['input']:6d} prompt tokens")
    print(f"  prefix only (plain llama-cpp-python) evaluated {prefix['evaluated']:6d} of "
          f"{prefix['input']:6d}")
    print(f"  per-party KV reuse (as shipped)     evaluated {kv['evaluated']:6d} of "
          f"{kv['input']:6d}")
    saving = 1 - kv["evaluated"] / kv["input"]
    saving_vs_prefix = 1 - kv["evaluated"] / prefix["evaluated"] if prefix["evaluated"] else 0.0
    print(f"  fewer prompt tokens evaluated than without reuse: {100 * saving:.1f}%  "
          f"(target >= 60%: {verdict(saving >= 0.60)}); than prefix-only: "
          f"{100 * saving_vs_prefix:.1f}%")
    print(f"  no-reuse baseline check: evaluated == input tokens on every call: "
          f"{all(a == b for a, b in none['per_call'])}")
    print("  per call (input -> evaluated), KV reuse: "
          + ", ".join(f"{a}->{b}" for a, b in kv["per_call"]))

    # -- memory ----------------------------------------------------------------------------
    print("\nresident memory:")
    print(f"  RSS before load {rss_before:.0f} MB, after load {rss_loaded:.0f} MB "
          f"(+{rss_loaded - rss_before:.0f} MB), after 3 concurrent sessions {rss_after:.0f} MB "
          f"(+{rss_after - rss_before:.0f} MB; RssFile {breakdown.get('RssFile', 0):.0f} MB, "
          f"RssAnon {breakdown.get('RssAnon', 0):.0f} MB)")
    print(f"  GGUF file {gguf_mb:.0f} MB; resident engines {engines}; saved KV states "
          f"{states} ({state_mb:.0f} MB)")
    one_model = engines == 1 and (rss_after - rss_before) < 2 * gguf_mb + state_mb + 512
    print(f"  one resident model for 3 sessions: {verdict(one_model)} "
          f"(3 separate models would add >= {3 * gguf_mb:.0f} MB of weights)")

    # -- throughput ------------------------------------------------------------------------
    print(f"\nthroughput ({reps} rep(s) each, medians):")
    modes = {}
    for label, concurrency in (("concurrency 3", SESSIONS), ("one at a time", 1)):
        runs = [run(concurrency) for _ in range(reps)]
        wall = statistics.median(r["wall"] for r in runs)
        out_tok = statistics.median(r["output"] for r in runs)
        all_tok = statistics.median(r["output"] + r["evaluated"] for r in runs)
        modes[label] = (wall, out_tok / wall, all_tok / wall)
        print(f"  {label:<14} wall {wall:6.2f} s, generated {out_tok / wall:6.1f} tok/s, "
              f"evaluated+generated {all_tok / wall:7.1f} tok/s  "
              f"(walls: {', '.join(format(r['wall'], '.2f') for r in runs)})")
    ratio = modes["concurrency 3"][1] / modes["one at a time"][1]
    print(f"  ratio concurrent / one-at-a-time (generated tok/s): {ratio:.2f}  (measured; "
          f"expected ~1: one Llama object runs one sequence at a time, calls queue on its lock)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
