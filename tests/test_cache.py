"""The response cache: replaying a finished run makes no model call and rebuilds the same log;
a warm cache only calls the model for what is missing; ``--no-cache`` calls it every time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from negotiation.backends.base import Completion, FatalError, GenerateConfig, Message
from negotiation.backends.cache import CACHE_NAME, CachedBackend, ResponseCache, request_key
from negotiation.logs.reading import load_logs
from negotiation.logs.records import comparable
from negotiation.runs.costs import Price, PriceTable, session_cost
from negotiation_cli import main
from tests.fakes.fake_llm_server import FakeLLMServer
from tests.fakes.negotiation_replies import replies


def _run(server: FakeLLMServer, out: Path, *extra: str) -> int:
    return main(["--game", "base", "--model", f"openai:fake@{server.openai_base_url}",
                 "--rounds", "4", "--temperature", "0.7", "--out", str(out), "--name", "r",
                 "--quiet", *extra])


def _logs(folder: Path) -> dict[str, object]:
    return {p.name: comparable(p) for p in sorted(folder.glob("session-*.json"))}


def test_replay_rebuilds_the_log_with_no_call(tmp_path: Path) -> None:
    with FakeLLMServer(replies(seed=3)) as server:
        assert _run(server, tmp_path) == 0
        calls = len(server.requests)
        assert calls == 1 + 4 + 1 + 5
        folder = tmp_path / "r"
        before = _logs(folder)
        for path in folder.glob("session-*.json"):
            path.unlink()
        assert _run(server, tmp_path, "--replay") == 0
        assert len(server.requests) == calls  # not one request reached the model
    after = _logs(folder)
    assert after == before
    log = load_logs(folder).logs[0]
    assert all(t.cached for t in log.turns)
    table = PriceTable(entries=(("openai:*", Price(1.0, 1.0)),))
    assert session_cost(log, table).cost == 0.0  # cached calls cost nothing


def test_warm_cache_calls_only_what_is_missing_and_no_cache_calls_all(tmp_path: Path) -> None:
    with FakeLLMServer(replies(seed=5)) as server:
        assert _run(server, tmp_path) == 0
        one = len(server.requests)
        assert _run(server, tmp_path, "--sessions", "2") == 0  # session 0 is complete: skipped
        assert len(server.requests) == 2 * one
        for path in (tmp_path / "r").glob("session-*.json"):
            path.unlink()
        assert _run(server, tmp_path, "--sessions", "2") == 0  # both rebuilt from the cache
        assert len(server.requests) == 2 * one
        for path in (tmp_path / "r").glob("session-*.json"):
            path.unlink()
        assert _run(server, tmp_path, "--sessions", "2", "--no-cache") == 0
        assert len(server.requests) == 4 * one
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["cache"] is None and summary["completed"] == 2


def test_replay_of_something_never_asked_fails_the_session(tmp_path: Path) -> None:
    with FakeLLMServer(replies(seed=1)) as server:
        assert _run(server, tmp_path, "--replay") == 1
        assert server.requests == []
    [log] = load_logs(tmp_path / "r").logs
    assert log.status == "failed" and "--replay" in (log.error or "")


class Counting:
    """A model that answers by echoing its seed and counts its calls."""

    spec = "openai:count"
    local = False

    def __init__(self) -> None:
        self.calls = 0

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        self.calls += 1
        return Completion(text=f"seed {config.seed}", input_tokens=3, output_tokens=2)

    async def aclose(self) -> None:
        return None

    @property
    def max_concurrency(self) -> int:
        return 1


def test_key_covers_messages_settings_and_seed_but_not_the_timeout(tmp_path: Path) -> None:
    model, cache = Counting(), ResponseCache(tmp_path / CACHE_NAME)
    cached = CachedBackend(model, cache)  # type: ignore[arg-type]
    messages = [Message("user", "hi")]

    def ask(**settings: object) -> Completion:
        return asyncio.run(cached.generate(messages, GenerateConfig(**settings)))  # type: ignore[arg-type]

    first = ask(seed=1)
    again = ask(seed=1, timeout_s=5.0, cache_key="party")
    assert (first.cached, again.cached, again.text, model.calls) == (False, True, "seed 1", 1)
    assert not ask(seed=2).cached and not ask(seed=1, temperature=0.5).cached
    assert model.calls == 3
    key = request_key("openai:count", messages, GenerateConfig(seed=1))
    assert key != request_key("openai:other", messages, GenerateConfig(seed=1))
    assert key != request_key("openai:count", [Message("user", "hi!")], GenerateConfig(seed=1))
    replay = CachedBackend(model, cache, "replay")  # type: ignore[arg-type]
    with pytest.raises(FatalError, match="--replay"):
        asyncio.run(replay.generate(messages, GenerateConfig(seed=9)))
    assert model.calls == 3
    cache.close()
