"""Harness CPU per model call, with the provider SDK's own cost measured apart.

Runs sessions of ``base`` (votes off, all at once) through the CLI in this process:

1. against ``benchmarks/loopback_server.py`` (an OpenAI-compatible server in its own process,
   HTTP/1.1 keep-alive, answering at once), through the real ``openai`` SDK: harness + SDK;
2. with the OpenAI backend's ``generate`` answering in-process with the same replies: every
   wrapper, gate, prompt, parse, record and journal line as in (1), no SDK, no HTTP.

Each is run at N/2 and N sessions; the cost per call is the difference of process CPU over the
difference of calls (the run's fixed cost -- planning, rendering every prompt once, the summary
-- is reported apart). In (2) the fake model's own CPU (making up a reply, counting words) is
measured and taken out. The SDK's cost is (1) - (2). cProfile then lists where the harness's
time goes, and long scripted sessions show the per-turn cost flat in the number of turns. Run
from the repository root::

    python benchmarks/bench_harness_cpu.py [--sessions 200] [--rounds 24]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODEL_CPU = [0.0]
"""CPU seconds the in-process fake model spent making up replies (not the harness's)."""
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from loopback_server import LoopbackServer  # noqa: E402

@contextlib.contextmanager
def without_sdk() -> Any:
    """The OpenAI backend answers in-process (the fake server's replies, its token counts)."""
    from negotiation.backends import openai_backend
    from negotiation.backends.base import Completion
    from tests.fakes.fake_llm_server import count_words
    from tests.fakes.negotiation_replies import turn_text

    async def generate(self: Any, messages: Any, config: Any) -> Completion:
        start = time.thread_time()
        body = {"messages": [{"content": m.content} for m in messages]}
        text = turn_text(body, seed=1)
        done = Completion(text=text, input_tokens=sum(count_words(m.content) for m in messages),
                          output_tokens=count_words(text), model_id=self.model)
        MODEL_CPU[0] += time.thread_time() - start
        return done

    real = openai_backend.OpenAIBackend.generate
    openai_backend.OpenAIBackend.generate = generate  # type: ignore[method-assign]
    try:
        yield
    finally:
        openai_backend.OpenAIBackend.generate = real  # type: ignore[method-assign]


def run(url: str, sessions: int, rounds: int, out: Path,
        profiler: cProfile.Profile | None = None) -> tuple[float, float]:
    """(wall, process CPU) of one CLI run."""
    from negotiation_cli import main

    args = ["--game", "base", "--model", f"openai:fake@{url}", "--no-vote", "--rounds",
            str(rounds), "--sessions", str(sessions), "--concurrency", str(sessions), "--out",
            str(out), "--name", f"r{time.monotonic_ns()}", "--quiet", "--no-cache"]
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        if profiler:
            profiler.enable()
        assert main(args) == 0
        if profiler:
            profiler.disable()
    return time.perf_counter() - wall, time.process_time() - cpu


def top(profiler: cProfile.Profile, calls: int, count: int = 15) -> list[str]:
    """The functions with the most own time, per call."""
    stats = pstats.Stats(profiler).stats
    rows = sorted(((own, name) for name, (_, _, own, _, _) in stats.items()), reverse=True)
    return [f"  {1000 * own / calls:6.3f} ms/call  {f.replace(str(ROOT) + '/', '')}:{line} {fn}"
            for own, (f, line, fn) in rows[:count]]


def per_turn_cost(out: Path) -> str:
    """CPU per turn of one scripted session at 100 and at 800 turns (flat when linear)."""
    from negotiation_cli import main

    figures = []
    for rounds in (8, 98, 798):  # the first run pays imports and template compilation
        start = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["--game", "base", "--model", "scripted:rational", "--rounds",
                         str(rounds), "--no-vote", "--out", str(out), "--name",
                         f"long{rounds}", "--quiet", "--no-cache"]) == 0
        figures.append(1000 * (time.process_time() - start) / (rounds + 2))
    return (f"scripted session CPU per turn (engine, policy, journal): {figures[1]:.2f} ms at "
            f"100 turns, {figures[2]:.2f} ms at 800 turns (ratio {figures[2] / figures[1]:.2f})")


def marginal(url: str, sessions: int, rounds: int, out: Path) -> tuple[float, float, float]:
    """(CPU ms per call, fixed CPU s of a run, wall s at ``sessions``) from two run sizes."""
    half = sessions // 2
    calls = (rounds + 2)
    MODEL_CPU[0] = 0.0
    _, cpu_half = run(url, half, rounds, out)
    model_half, MODEL_CPU[0] = MODEL_CPU[0], 0.0
    wall, cpu_full = run(url, sessions, rounds, out)
    model_full = MODEL_CPU[0]
    per_call = ((cpu_full - model_full) - (cpu_half - model_half)) / ((sessions - half) * calls)
    fixed = (cpu_half - model_half) - per_call * half * calls
    return 1000 * per_call, fixed, wall


def group(profiler: cProfile.Profile) -> list[str]:
    """Own time by where the code lives: the harness's modules, the standard library, deps."""
    totals: dict[str, float] = {}
    for (path, _, _), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        if str(ROOT) in path:
            key = path.replace(str(ROOT) + "/", "").split("/")[0]
        elif "site-packages" in path:
            key = "deps: " + path.split("site-packages/")[1].split("/")[0]
        else:
            key = "python: builtins and standard library"
        totals[key] = totals.get(key, 0.0) + own
    whole = sum(totals.values())
    rows = sorted(totals.items(), key=lambda kv: -kv[1])[:8]
    return [f"  {100 * v / whole:5.1f}%  {k}" for k, v in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=24)
    args = parser.parse_args()
    server = LoopbackServer(latency_s=0.0)  # HTTP/1.1 keep-alive, its own process
    url = server.base_url
    calls = args.sessions * (args.rounds + 2)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        run(url, 1, 2, out)  # imports, template compilation, first connection
        sdk_call, sdk_fixed, sdk_wall = marginal(url, args.sessions, args.rounds, out)
        with without_sdk():
            run(url, 1, 2, out)
            harness, fixed, wall = marginal(url, args.sessions, args.rounds, out)
            profiler = cProfile.Profile()
            run(url, args.sessions, args.rounds, out, profiler)
        turn_cost = per_turn_cost(out)
    server.close()
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}; {args.sessions} sessions x {args.rounds + 2} "
          f"calls = {calls} calls, all at once (and half as many, for the difference)")
    print(f"with the SDK:  {sdk_call:.2f} ms CPU per call, run's fixed cost {sdk_fixed:.2f} s, "
          f"wall {sdk_wall:.2f} s")
    print(f"harness only:  {harness:.2f} ms CPU per call, run's fixed cost {fixed:.2f} s, "
          f"wall {wall:.2f} s (the fake model's own CPU taken out)")
    print(f"SDK (openai + httpx, the difference): {sdk_call - harness:.2f} ms per call")
    print("where the harness's own time goes (cProfile, own time by package):")
    print("\n".join(group(profiler)))
    print("top functions (own time per call, cProfile-inflated):")
    print("\n".join(top(profiler, calls)))
    print(turn_cost)
    print(f"RESULT harness CPU per call {harness:.2f} ms (target <= 1 ms): "
          f"{'PASS' if harness <= 1.0 else 'MISS'}")


if __name__ == "__main__":
    main()
