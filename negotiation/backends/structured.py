"""What every provider does with ``GenerateConfig.constraint``: refuse a mode it cannot apply,
and keep compiled grammars in a small per-model cache keyed by ``Constraint.key``.

The seat checks ``Backend.structured_modes`` before it sends a constraint; ``require_mode`` is
the providers' own guard, so a constraint that reaches a provider that cannot apply it fails
the call (``FatalError``) instead of silently producing an unconstrained answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from negotiation.backends.base import Constraint, FatalError, StructuredMode

T = TypeVar("T")
DEFAULT_CACHE_SIZE = 256
"""Compiled grammars kept per model (a restricted deal space gives each seat its own)."""


def require_mode(spec: str, modes: Sequence[StructuredMode],
                 constraint: Constraint | None) -> Constraint | None:
    """``constraint`` when ``modes`` include its mode; ``FatalError`` naming the backend and the
    modes it takes otherwise (None passes: a free-text call)."""
    if constraint is None or constraint.mode in modes:
        return constraint
    taken = ", ".join(modes) if modes else "none"
    raise FatalError(f"{spec or 'this backend'} cannot apply a {constraint.mode!r} constraint "
                     f"(structured modes it takes: {taken})")


class CompiledCache(Generic[T]):
    """A thread-safe LRU of compiled constraints by ``Constraint.key``.

    ``get(key, compile)`` compiles on the first use of a key; a compile that raises caches
    nothing (the next call with that key raises again).
    """

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self.compiles = 0
        """How many compiles ran (for tests and diagnostics)."""

    def get(self, key: str, compile_fn: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compile_fn()
        with self._lock:
            self.compiles += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
