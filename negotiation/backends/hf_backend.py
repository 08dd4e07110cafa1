"""Local transformers models (``hf:FOLDER_OR_HUB_ID``) with request batching.

On a CPU, one ``generate`` call over a left-padded batch of N prompts costs far less than N
calls, so concurrent requests (e.g. several games played side by side) are batched: requests that
arrive while the model is busy, or within a short window of an idle model, wait in a queue and
run as one ``generate``; the outputs are split back to their callers. Requests are grouped by
generation settings, since one ``generate`` call takes one set. All backends created for the same
model in a process share one resident model and one queue per event loop.

Structured turns (``GenerateConfig.constraint`` in mode ``grammar``) are decoded under the
constraint's GBNF through xgrammar: each grammar is compiled once per ``Constraint.key`` against
the model's tokenizer, and a logits processor keeps one grammar matcher per row, so requests
with different constraints (and free-text requests) still share one batch; the constraint is
not part of the grouping. Each row is masked to the tokens its grammar allows, and once its
grammar is complete only an EOS token, so a constrained answer ends by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from negotiation.backends.base import (
    Backend,
    Completion,
    Constraint,
    FatalError,
    GenerateConfig,
    Message,
    StructuredMode,
    env_number,
)
from negotiation.backends.hf_grammar import (
    grammar_processor,
    import_xgrammar,
    xgrammar_available,
)
from negotiation.backends.structured import CompiledCache, require_mode

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install torch==2.13.0 transformers==5.23.0"
MAX_BATCH_ENV = "NEGOTIATION_HF_MAX_BATCH"
WINDOW_ENV = "NEGOTIATION_HF_BATCH_WINDOW_S"
DEFAULT_MAX_BATCH = 8
DEFAULT_WINDOW_S = 0.01
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
"""Used only for tokenizers that ship no chat template."""


def _import_stack() -> tuple[ModuleType, ModuleType]:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise FatalError(f"the hf backend needs torch and transformers: {INSTALL_HINT}") from exc
    return torch, transformers


@dataclass(frozen=True)
class _Settings:
    """The part of ``GenerateConfig`` that one ``generate`` call must share."""

    temperature: float
    top_p: float | None
    top_k: int | None
    max_tokens: int
    seed: int | None

    @classmethod
    def of(cls, config: GenerateConfig) -> _Settings:
        return cls(config.temperature, config.top_p, config.top_k, config.max_tokens, config.seed)

    def generate_kwargs(self) -> dict[str, Any]:
        if self.temperature == 0.0:
            return {"max_new_tokens": self.max_tokens, "do_sample": False}
        return {"max_new_tokens": self.max_tokens, "do_sample": True,
                "temperature": self.temperature,
                "top_p": 1.0 if self.top_p is None else self.top_p,
                "top_k": 0 if self.top_k is None else self.top_k}


class _Engine:
    """One resident model and tokenizer; ``run_batch`` runs in a worker thread."""

    def __init__(self, model: str) -> None:
        self.torch, transformers = _import_stack()
        self.name = model
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model)
            self.model = transformers.AutoModelForCausalLM.from_pretrained(model, dtype="auto")
        except Exception as exc:  # noqa: BLE001 - any load failure (missing, offline, bad config)
            raise FatalError(f"transformers could not load {model!r}: {exc}") from exc
        self.model.eval()
        if not self.tokenizer.chat_template:
            logger.warning("%s has no chat template; falling back to ChatML", model)
            self.tokenizer.chat_template = CHATML_TEMPLATE
        self.eos_ids = self._eos_ids()
        self.pad_id = (self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None
                       else self.eos_ids[0])
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        self.lock = threading.Lock()
        self.grammars: CompiledCache[Any] = CompiledCache()
        self._tokenizer_info: Any = None
        self._compiler: Any = None
        self.batch_sizes: list[int] = []
        self.batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = (
            weakref.WeakKeyDictionary())

    def _eos_ids(self) -> list[int]:
        found = self.model.generation_config.eos_token_id
        ids = [found] if isinstance(found, int) else list(found or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        if not ids:
            raise FatalError(f"{self.name} defines no EOS token")
        return ids

    def encode(self, messages: list[Message]) -> list[int]:
        """Chat template -> token ids (the template already adds any BOS it wants)."""
        text = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            tokenize=False, add_generation_prompt=True)
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if self.max_positions is not None and len(ids) >= self.max_positions:
            raise FatalError(f"prompt has {len(ids)} tokens but {self.name} handles at most "
                             f"max_position_embeddings={self.max_positions}")
        return ids

    def grammar(self, constraint: Constraint) -> Any:
        """The xgrammar ``CompiledGrammar`` of ``constraint`` (compiled once per key)."""
        return self.grammars.get(constraint.key, lambda: self._compile(constraint))

    def _compile(self, constraint: Constraint) -> Any:
        xgr = import_xgrammar()
        if self._compiler is None:
            self._tokenizer_info = xgr.TokenizerInfo.from_huggingface(
                self.tokenizer, vocab_size=self._vocab_size(), stop_token_ids=self.eos_ids)
            self._compiler = xgr.GrammarCompiler(self._tokenizer_info)
        try:
            return self._compiler.compile_grammar(constraint.gbnf, root_rule_name="root")
        except (RuntimeError, ValueError) as exc:
            detail = " ".join(str(exc).split())[:500]
            raise FatalError(f"xgrammar rejected the grammar of constraint {constraint.name!r} "
                             f"(key {constraint.key}): {detail}") from exc

    def _vocab_size(self) -> int:
        """The width of the model's logits (may exceed the tokenizer's vocabulary)."""
        head = self.model.get_output_embeddings()
        if head is not None and getattr(head, "weight", None) is not None:
            return int(head.weight.shape[0])
        return int(self.model.config.vocab_size)

    def run_batch(self, batch: list[list[Message]], settings: _Settings,
                  constraints: list[Constraint | None] | None = None
                  ) -> list[Completion | FatalError]:
        """Encode, left-pad and generate a whole batch; per-request errors are returned.

        ``constraints`` (one per request, None for free text) constrain rows one by one.
        """
        constraints = constraints or [None] * len(batch)
        with self.lock:
            started = time.perf_counter()
            encoded: list[tuple[list[int], Any] | FatalError] = []
            for messages, constraint in zip(batch, constraints):
                try:
                    grammar = None if constraint is None else self.grammar(constraint)
                    encoded.append((self.encode(messages), grammar))
                except FatalError as exc:
                    encoded.append(exc)
            good = [item for item in encoded if not isinstance(item, FatalError)]
            outputs = iter(self._generate([ids for ids, _ in good], settings,
                                          [g for _, g in good]) if good else [])
            if good:
                self.batch_sizes.append(len(good))
            latency = time.perf_counter() - started
            return [item if isinstance(item, FatalError)
                    else self._completion(len(item[0]), next(outputs), latency,
                                          constrained=item[1] is not None)
                    for item in encoded]

    def _generate(self, prompts: list[list[int]], settings: _Settings,
                  grammars: list[Any] | None = None) -> list[list[int]]:
        torch = self.torch
        width = max(len(ids) for ids in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, ids in enumerate(prompts):
            input_ids[row, width - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids):] = 1
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        extra: dict[str, Any] = {}
        if grammars and any(g is not None for g in grammars):
            extra["logits_processor"] = [grammar_processor(import_xgrammar(), grammars)]
        try:
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=input_ids, attention_mask=attention, pad_token_id=self.pad_id,
                    eos_token_id=self.eos_ids, repetition_penalty=1.0,
                    **settings.generate_kwargs(), **extra)
        except (RuntimeError, ValueError) as exc:
            raise FatalError(f"generation failed on {self.name}: {exc}") from exc
        return [row[width:].tolist() for row in out]

    def _completion(self, n_input: int, generated: list[int], latency: float,
                    constrained: bool = False) -> Completion:
        end = next((i for i, tok in enumerate(generated) if tok in self.eos_ids), None)
        tokens = generated if end is None else generated[:end]
        return Completion(
            text=self.tokenizer.decode(tokens, skip_special_tokens=True),
            input_tokens=n_input, output_tokens=len(tokens), latency_s=latency,
            finish_reason="length" if end is None else "stop",
            model_id=os.path.basename(self.name) if os.path.isdir(self.name) else self.name,
            extra={"prompt_tokens_evaluated": n_input}, constrained=constrained)


@dataclass
class _Request:
    messages: list[Message]
    future: asyncio.Future[Completion]
    constraint: Constraint | None = None


@dataclass
class _Batcher:
    """Per-event-loop queue; one drain task runs batches one after another."""

    engine: _Engine
    max_batch: int
    window_s: float
    queues: dict[_Settings, list[_Request]] = field(default_factory=dict)
    drainer: asyncio.Task[None] | None = None

    async def submit(self, messages: list[Message], settings: _Settings,
                     constraint: Constraint | None = None) -> Completion:
        loop = asyncio.get_running_loop()
        request = _Request(messages, loop.create_future(), constraint)
        self.queues.setdefault(settings, []).append(request)
        if self.drainer is None or self.drainer.done():
            self.drainer = loop.create_task(self._drain())
        return await request.future

    def _take(self) -> tuple[_Settings, list[_Request]]:
        settings = next(iter(self.queues))
        waiting = [r for r in self.queues.pop(settings) if not r.future.done()]
        batch, rest = waiting[:self.max_batch], waiting[self.max_batch:]
        if rest:
            self.queues[settings] = rest
        return settings, batch

    async def _drain(self) -> None:
        await asyncio.sleep(self.window_s)  # once, while idle: let concurrent callers join
        while self.queues:
            settings, batch = self._take()
            if not batch:
                continue
            try:
                results = await asyncio.to_thread(
                    self.engine.run_batch, [r.messages for r in batch], settings,
                    [r.constraint for r in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch
                results = [exc] * len(batch)
            for request, result in zip(batch, results):
                if request.future.done():
                    continue  # the caller gave up (timeout / cancellation)
                if isinstance(result, Exception):
                    request.future.set_exception(result)
                else:
                    request.future.set_result(result)


class HFBackend(Backend):
    """A handle on a shared resident model; cheap to create one per party.

    Takes ``grammar`` constraints (GBNF, through xgrammar) when xgrammar is installed;
    ``Completion.constrained`` is True when the answer was decoded under one.
    """

    local = True

    def __init__(self, engine: _Engine, max_batch: int, window_s: float) -> None:
        self.engine = engine
        self.spec = f"hf:{engine.name}"
        self._max_batch = max_batch
        self._window_s = window_s

    @property  # type: ignore[override]
    def structured_modes(self) -> tuple[StructuredMode, ...]:
        return ("grammar",) if xgrammar_available() else ()

    @property
    def batch_sizes(self) -> list[int]:
        """Sizes of every batch the shared model ran so far (for tests and diagnostics)."""
        return self.engine.batch_sizes

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        constraint = require_mode(self.spec, self.structured_modes, config.constraint)
        loop = asyncio.get_running_loop()
        batcher = self.engine.batchers.get(loop)
        if batcher is None:
            batcher = _Batcher(self.engine, self._max_batch, self._window_s)
            self.engine.batchers[loop] = batcher
        return await batcher.submit(list(messages), _Settings.of(config), constraint)

    @property
    def max_concurrency(self) -> int:
        return self._max_batch


_ENGINES: dict[str, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def create(model: str, base_url: str | None = None) -> Backend:
    """Backend for a local folder or hub id (set ``HF_HUB_OFFLINE=1`` to forbid downloads)."""
    if base_url:
        logger.warning("hf backend ignores base_url=%s", base_url)
    _import_stack()
    key = os.path.abspath(model) if os.path.isdir(model) else model
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = _Engine(key)
    max_batch = int(env_number(MAX_BATCH_ENV, DEFAULT_MAX_BATCH, 1))
    return HFBackend(engine, max_batch, env_number(WINDOW_ENV, DEFAULT_WINDOW_S))
