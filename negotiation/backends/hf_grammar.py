"""Grammar-constrained rows of a transformers batch, through xgrammar.

``grammar_processor`` is a logits processor holding one xgrammar matcher per row of one
``generate`` call (None for a free row), so requests with different grammars, and free-text
requests, share a batch.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

from negotiation.backends.base import FatalError

XGRAMMAR_HINT = "pip install xgrammar==0.2.9"


def xgrammar_available() -> bool:
    """Whether grammar constraints can be applied (xgrammar is installed)."""
    return importlib.util.find_spec("xgrammar") is not None


def import_xgrammar() -> ModuleType:
    try:
        import xgrammar
    except ImportError as exc:
        raise FatalError(f"grammar constraints on the hf backend need xgrammar: "
                         f"{XGRAMMAR_HINT}") from exc
    return xgrammar


def grammar_processor(xgr: ModuleType, grammars: list[Any]) -> Any:
    """A logits processor masking each row to its own grammar (None: a free row).

    Like ``xgrammar.contrib.hf.LogitsProcessor`` (one matcher per row, usable for one
    ``generate`` call), but rows may be unconstrained, masks are filled by xgrammar's threaded
    ``BatchGrammarMatcher``, and only rows whose grammar is still running are masked (a finished
    row keeps its logits, so it never sees an all ``-inf`` row).
    """
    import transformers

    class GrammarRows(transformers.LogitsProcessor):  # type: ignore[misc]
        def __init__(self) -> None:
            self.matchers = [None if g is None else xgr.GrammarMatcher(g) for g in grammars]
            self.rows = [i for i, m in enumerate(self.matchers) if m is not None]
            self.bitmask: Any = None
            self.batch = xgr.BatchGrammarMatcher()
            self.started = False

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if input_ids.shape[0] != len(self.matchers):
                raise RuntimeError(f"grammar processor built for {len(self.matchers)} rows, "
                                   f"got {input_ids.shape[0]}")
            if self.bitmask is None:
                self.bitmask = xgr.allocate_token_bitmask(len(self.matchers), scores.shape[-1])
            if self.started:
                for row in self.rows:
                    matcher = self.matchers[row]
                    if not matcher.is_terminated():
                        token = int(input_ids[row, -1])
                        if not matcher.accept_token(token):
                            raise RuntimeError(f"row {row}: token {token} breaks its grammar")
            self.started = True
            active = [r for r in self.rows if not self.matchers[r].is_terminated()]
            if active:
                self.batch.batch_fill_next_token_bitmask(
                    [self.matchers[r] for r in active], self.bitmask, indices=active)
                mask = self.bitmask.to(scores.device)
                xgr.apply_token_bitmask_inplace(scores, mask, vocab_size=scores.shape[-1],
                                                indices=active)
            return scores

    return GrammarRows()
