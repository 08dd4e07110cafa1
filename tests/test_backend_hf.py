"""The transformers backend on a tiny random model built offline: batching changes nothing.

Concurrent greedy requests are run as one left-padded ``generate`` call; their texts and token
counts must equal those of the same requests run one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs: pip install torch==2.13.0 transformers==5.23.0")
pytest.importorskip("transformers", reason="needs: pip install torch==2.13.0 transformers==5.23.0")

from negotiation.backends import hf_backend  # noqa: E402
from negotiation.backends.base import Completion, FatalError, GenerateConfig, Message  # noqa: E402
from tests.fakes.tiny_hf import build_tiny_chat_model  # noqa: E402

GREEDY = GenerateConfig(temperature=0.0, max_tokens=12)
PROMPTS = [
    [Message("user", "Offer.")],
    [Message("system", "You are a negotiator."), Message("user", "Make your first offer now.")],
    [Message("system", "Alice offers Bob three apples for two pears."),
     Message("user", "Bob refuses and proposes an even split of the budget. Your answer?")],
    [Message("system", "You are a negotiator."), Message("user", "Offer."),
     Message("assistant", "Three apples."), Message("user", "The committee must agree on a "
                                                     "deal before the deadline. Again.")],
]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:  # offline from the first transformers import
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "model")


def _one_by_one(backend: hf_backend.HFBackend) -> list[Completion]:
    async def run() -> list[Completion]:
        return [await backend.generate(messages, GREEDY) for messages in PROMPTS]
    return asyncio.run(run())


def _concurrently(backend: hf_backend.HFBackend) -> list[Completion]:
    async def run() -> list[Completion]:
        return list(await asyncio.gather(*(backend.generate(m, GREEDY) for m in PROMPTS)))
    return asyncio.run(run())


def test_batched_greedy_equals_one_by_one(tiny_model: Path) -> None:
    backend = hf_backend.create(str(tiny_model))
    assert isinstance(backend, hf_backend.HFBackend)
    single = _one_by_one(backend)
    assert backend.batch_sizes == [1, 1, 1, 1]
    batched = _concurrently(backend)
    assert backend.batch_sizes == [1, 1, 1, 1, 4]
    assert len({c.input_tokens for c in single}) == len(PROMPTS)  # really different lengths
    for alone, together in zip(single, batched):
        assert together.text == alone.text
        assert together.text.strip()
        assert together.input_tokens == alone.input_tokens  # padding is not counted
        assert (together.output_tokens, together.finish_reason) == (12, "length")


def test_backends_for_one_model_share_its_queue(tiny_model: Path) -> None:
    first, second = hf_backend.create(str(tiny_model)), hf_backend.create(str(tiny_model))
    assert isinstance(first, hf_backend.HFBackend) and isinstance(second, hf_backend.HFBackend)
    before = len(first.batch_sizes)

    async def run() -> None:
        await asyncio.gather(first.generate(PROMPTS[0], GREEDY),
                             second.generate(PROMPTS[1], GREEDY),
                             first.generate(PROMPTS[2], GenerateConfig(max_tokens=3)))
    asyncio.run(run())
    assert sorted(first.batch_sizes[before:]) == [1, 2]  # grouped by generation settings


def test_eos_ends_the_answer(tmp_path: Path) -> None:
    backend = hf_backend.create(str(build_tiny_chat_model(tmp_path / "eos", eos_first=True)))
    reply = asyncio.run(backend.generate(PROMPTS[1], GREEDY))
    assert (reply.text, reply.output_tokens, reply.finish_reason) == ("", 0, "stop")
    assert reply.input_tokens > 5


def test_sampling_with_a_seed_is_reproducible(tiny_model: Path) -> None:
    backend = hf_backend.create(str(tiny_model))
    config = GenerateConfig(temperature=1.0, top_p=0.9, top_k=20, max_tokens=8, seed=7)
    first = asyncio.run(backend.generate(PROMPTS[1], config))
    second = asyncio.run(backend.generate(PROMPTS[1], config))
    assert first.text == second.text and first.output_tokens == 8


def test_prompt_longer_than_the_model_is_fatal(tiny_model: Path) -> None:
    backend = hf_backend.create(str(tiny_model))
    with pytest.raises(FatalError, match="max_position_embeddings=512"):
        asyncio.run(backend.generate([Message("user", "deadline " * 600)], GREEDY))


def test_missing_model_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="could not load"):
        hf_backend.create(str(tmp_path / "no-such-model"))
