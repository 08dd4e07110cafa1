"""Validating a GBNF grammar with llama.cpp itself, before llama.cpp is asked to decode with it.

``LlamaGrammar.from_string`` does not validate, and llama.cpp segfaults inside
``create_completion`` on a grammar it cannot parse; ``grammar_problem`` parses it once with
``llama_sampler_init_grammar`` and returns llama.cpp's own message when that fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
from collections.abc import Iterator
from types import ModuleType
from typing import Any


def grammar_problem(llama_cpp: ModuleType, vocab: Any, text: str) -> str | None:
    """None when llama.cpp accepts ``text`` as a GBNF grammar with start rule ``root``; else
    what llama.cpp said about it (it prints parse errors to the C ``stderr`` and its log).

    ``llama_sampler_init_grammar`` parses the grammar and returns NULL when it cannot; a good
    sampler is freed at once. File descriptor 2 is redirected for the call (well under a
    millisecond), so anything another thread writes to it meanwhile lands in the message.
    """
    captured: list[str] = []

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def capture(level: int, message: bytes, user_data: ctypes.c_void_p) -> None:
        captured.append(message.decode("utf-8", "replace"))

    with _fd2_captured() as printed:
        llama_cpp.llama_log_set(capture, ctypes.c_void_p(0))
        try:
            sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode("utf-8"), b"root")
        finally:
            _restore_log(llama_cpp)
    if sampler:
        llama_cpp.llama_sampler_free(sampler)
        return None
    detail = " ".join((printed[0] + " " + "".join(captured)).split())
    return detail or "llama.cpp could not parse the grammar"


def _restore_log(llama_cpp: ModuleType) -> None:
    try:
        from llama_cpp import _logger
    except ImportError:  # pragma: no cover - other llama-cpp-python layouts
        llama_cpp.llama_log_set(None, ctypes.c_void_p(0))
        return
    llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))


@contextlib.contextmanager
def _fd2_captured() -> Iterator[list[str]]:
    """Redirect file descriptor 2 to a temporary file; the yielded list gets its text."""
    result = [""]
    with tempfile.TemporaryFile() as sink:
        try:
            saved = os.dup(2)
        except OSError:  # no standard error at all: nothing to capture
            yield result
            return
        os.dup2(sink.fileno(), 2)
        try:
            yield result
        finally:
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            result[0] = sink.read(4000).decode("utf-8", "replace")
