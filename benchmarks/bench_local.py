#!/usr/bin/env python
"""Local-model benchmark: the embedded ``llamacpp:smollm2`` on 3 concurrent sessions of ``base``
(rounds 3, vote off, max_tokens 32), through the sweep runner.

Measures
* prompt tokens evaluated with per-party KV reuse (the backend's saved state per
  ``cache_key``) against two baselines on the same sessions: *no reuse* (each call evaluates its
  whole prompt, i.e. ``input_tokens``; ``--cold`` measures it by resetting the context before
  every call) and *prefix only* (llama-cpp-python's own behaviour: reuse the longest common
  prefix with whatever sequence the context holds, no saved states). The backend has no switch
  to turn reuse off (``NEGOTIATION_LLAMACPP_MAX_STATES`` must be >= 1), so both measured
  baselines patch ``_Engine.switch_to`` in this process; and the proposed fix *lookup* (on a
  cache-key miss, restore the saved state with the longest common token prefix);
* resident memory: RSS before the model is loaded, after loading, after the sessions (with their
  saved KV states), against the GGUF file size, and how many engines (resident models) exist;
* throughput: 3 sessions at concurrency 3 against the same 3 sessions strictly one request at a
  time (concurrency 1), as generated tokens/s and prompt+generated tokens/s.

Run from the repository root::

    python benchmarks/bench_local.py            # KV, prefix-only, lookup, one-at-a-time (~4 min idle)
    python benchmarks/bench_local.py --quick    # shipped backend only (KV and one-at-a-time)
    python benchmarks/bench_local.py --cold --reps 2   # also measure the no-reuse baseline
    NEGOTIATION_LLAMACPP_MAX_STATES=24 python benchmarks/bench_local.py --rounds 24 --tokens-only

Wall times depend heavily on machine load: llama.cpp runs ``os.cpu_count()`` threads that
spin-wait on each other when another process takes a core.
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
ROUNDS_USED = [ROUNDS]  # --rounds overrides


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
    from negotiation.runs.setup import RunSettings
    from negotiation.runs.specs import ExperimentPlan, SessionSpec

    settings = RunSettings(model="llamacpp:smollm2", rounds=ROUNDS_USED[0], vote=False, seed=7,
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


def _common_prefix(ids: Any, n: int, tokens: list[int]) -> int:
    import numpy as np

    m = min(n, len(tokens))
    if m == 0:
        return 0
    diff = np.flatnonzero(np.asarray(ids[:m]) != np.asarray(tokens[:m]))
    return int(diff[0]) if diff.size else m


@contextlib.contextmanager
def reuse_mode(mode: str) -> Iterator[None]:
    """``kv`` (as shipped), ``lookup`` (proposed: on a key miss, restore the saved state with
    the longest common prefix), ``prefix`` (no saved states) or ``none`` (reset every call)."""
    from negotiation.backends.llamacpp_backend import _Engine

    switch, tokenize = _Engine.switch_to, _Engine.tokenize
    if mode == "prefix":
        _Engine.switch_to = lambda self, key: None  # type: ignore[method-assign]
    elif mode == "none":
        _Engine.switch_to = lambda self, key: self.llm.reset()  # type: ignore[method-assign]
    elif mode == "lookup":
        def remember(self: Any, messages: Any) -> Any:
            tokens, stop = tokenize(self, messages)
            self.bench_tokens = tokens  # run() calls switch_to right after tokenize
            return tokens, stop

        def switch_or_lookup(self: Any, key: str | None) -> None:
            if key == self._owner:  # noqa: SLF001
                return
            miss = key not in self._states  # noqa: SLF001
            switch(self, key)  # park the owner, restore key's own state if it has one
            if not miss:
                return
            tokens = self.bench_tokens
            best = _common_prefix(self.llm.input_ids, self.llm.n_tokens, tokens)
            chosen = None
            for state in self._states.values():  # noqa: SLF001
                shared = _common_prefix(state.input_ids, state.n_tokens, tokens)
                if shared > best:
                    best, chosen = shared, state
            if chosen is not None:
                self.llm.load_state(chosen)  # a copy: the other key keeps its state

        _Engine.tokenize = remember  # type: ignore[method-assign]
        _Engine.switch_to = switch_or_lookup  # type: ignore[method-assign]
    try:
        yield
    finally:
        _Engine.switch_to, _Engine.tokenize = switch, tokenize  # type: ignore[method-assign]


def run(concurrency: int, mode: str = "kv") -> dict[str, Any]:
    from negotiation.runs.sweep import run_plan

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
                     for t in turns],
        "per_session": [[(t.party, t.phase, t.input_tokens,
                          int(t.extra.get("prompt_tokens_evaluated", 0))) for t in j.log.turns]
                        for j in jobs],
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repetition per throughput mode")
    parser.add_argument("--reps", type=int, help="repetitions per throughput mode (default 1)")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"discussion turns per session (default {ROUNDS}; the game's own "
                        "default is 4 x parties = 24)")
    parser.add_argument("--tokens-only", action="store_true",
                        help="only the prompt-token figures (shipped backend and the proposed "
                        "longest-prefix lookup; --quick: shipped only)")
    parser.add_argument("--cold", action="store_true",
                        help="also run the no-reuse baseline (context reset before every call; "
                        "slow: ~10 s per call on 2 cores)")
    args = parser.parse_args()
    reps = args.reps or 1
    ROUNDS_USED[0] = args.rounds

    import logging

    logging.disable(logging.WARNING)
    from negotiation.backends import llamacpp_backend
    from negotiation.backends.llamacpp_backend import resolve_model_path

    gguf = resolve_model_path("smollm2")
    gguf_mb = gguf.stat().st_size / 1e6 / 1.048576
    import llama_cpp  # noqa: F401 - its import cost is not the model's

    print(f"model {gguf.name} ({gguf_mb:.1f} MB); {SESSIONS} sessions of base, rounds {args.rounds}, "
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
    print(f"\nprompt tokens over {kv['calls']} calls (3 concurrent sessions):")
    print(f"  no reuse (every call evaluates its whole prompt = input tokens): {kv['input']:6d}")
    if args.cold:
        none = run(SESSIONS, "none")
        print(f"  no reuse, measured (context reset per call): evaluated {none['evaluated']:6d} "
              f"of {none['input']:6d}; evaluated == input on every call: "
              f"{all(a == b for a, b in none['per_call'])}")
    prefix = lookup = None
    if not (args.quick or args.tokens_only):
        prefix = run(SESSIONS, "prefix")
        print(f"  prefix only (plain llama-cpp-python, no saved states): evaluated "
              f"{prefix['evaluated']:6d} of {prefix['input']:6d}")
    print(f"  per-party KV reuse (as shipped): evaluated {kv['evaluated']:6d} of {kv['input']:6d}")
    saving = 1 - kv["evaluated"] / kv["input"]
    print(f"  fewer prompt tokens evaluated than without reuse: {100 * saving:.1f}%  "
          f"(target >= 60%: {verdict(saving >= 0.60)})")
    if prefix is not None and prefix["evaluated"]:
        print(f"  fewer than prefix-only: {100 * (1 - kv['evaluated'] / prefix['evaluated']):.1f}%")
    first = sum(1 for sess in kv["per_session"] for i, (party, phase, _, _) in enumerate(sess)
                if phase != "final" and all(q != party for q, _, _, _ in sess[:i]))
    print(f"  {first} of {kv['calls']} calls are a party's first turn in its session: its own "
          f"KV state cannot exist yet, only a shared prefix can be reused")
    for k, sess in enumerate(kv["per_session"]):
        print(f"    session {k}: " + ", ".join(f"{party.split()[0]}/{phase} {a}->{b}"
                                              for party, phase, a, b in sess))
    if not args.quick:
        lookup = run(SESSIONS, "lookup")
        saving_lookup = 1 - lookup["evaluated"] / lookup["input"]
        print(f"  proposed fix, on a key miss restore the saved state with the longest common "
              f"prefix: evaluated {lookup['evaluated']:6d} of {lookup['input']:6d}, "
              f"{100 * saving_lookup:.1f}% fewer (target >= 60%: {verdict(saving_lookup >= 0.60)})")
        for k, sess in enumerate(lookup["per_session"]):
            print(f"    session {k}: " + ", ".join(f"{party.split()[0]}/{phase} {a}->{b}"
                                                  for party, phase, a, b in sess))

    # -- memory ----------------------------------------------------------------------------
    print("\nresident memory:")
    print(f"  RSS before load {rss_before:.0f} MB, after load {rss_loaded:.0f} MB "
          f"(+{rss_loaded - rss_before:.0f} MB), after 3 concurrent sessions {rss_after:.0f} MB "
          f"(+{rss_after - rss_before:.0f} MB; RssFile {breakdown.get('RssFile', 0):.0f} MB, "
          f"RssAnon {breakdown.get('RssAnon', 0):.0f} MB)")
    print(f"  GGUF file {gguf_mb:.0f} MB; resident engines {engines}; saved KV states "
          f"{states} ({state_mb:.0f} MB)")
    growth = rss_after - rss_before
    print(f"  RSS growth / GGUF size = {growth / gguf_mb:.2f} (weights once, plus the KV cache, "
          f"compute buffers and saved states); one model per session would hold "
          f"{SESSIONS} x {gguf_mb:.0f} MB of weights and {SESSIONS} KV caches")
    print(f"  one resident model for {SESSIONS} sessions (engines == 1): {verdict(engines == 1)}")

    if args.tokens_only:
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return

    # -- throughput ------------------------------------------------------------------------
    print(f"\nthroughput ({reps} rep(s) each, medians; the KV run above is the first "
          f"concurrency-3 rep):")
    modes = {}
    samples: dict[int, list[dict[str, Any]]] = {SESSIONS: [kv], 1: []}
    for rep in range(reps):  # alternate the modes, so a change of machine load hits both
        samples[1].append(run(1))
        if rep + 1 < reps:
            samples[SESSIONS].append(run(SESSIONS))
    for label, concurrency in (("concurrency 3", SESSIONS), ("one at a time", 1)):
        runs = samples[concurrency]
        wall = statistics.median(r["wall"] for r in runs)
        out_tok = statistics.median(r["output"] for r in runs)
        all_tok = statistics.median(r["output"] + r["evaluated"] for r in runs)
        modes[label] = (wall, out_tok / wall, all_tok / wall)
        print(f"  {label:<14} wall {wall:6.2f} s, generated {out_tok / wall:6.1f} tok/s, "
              f"evaluated+generated {all_tok / wall:7.1f} tok/s, prompt tokens evaluated "
              f"{statistics.median(r['evaluated'] for r in runs):.0f} "
              f"(walls: {', '.join(format(r['wall'], '.2f') for r in runs)})")
    ratio = modes["concurrency 3"][1] / modes["one at a time"][1]
    print(f"  ratio concurrent / one-at-a-time (generated tok/s): {ratio:.2f}  (measured; "
          f"expected ~1: one Llama object runs one sequence at a time, calls queue on its lock)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
