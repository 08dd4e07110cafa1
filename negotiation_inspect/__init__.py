"""The harness as an inspect_ai extension (optional: ``pip install -e .[inspect]``).

Tasks ``negotiation/<game>`` for every shipped game and ``negotiation/game`` for any folder;
model providers ``negotiation-llamacpp``, ``negotiation-hf`` and ``negotiation-scripted``; the
scorer ``negotiation/session_metrics``. inspect drives the model calls, the harness's rules,
prompts, engine and metrics do the rest; see docs/inspect.md.

This package imports ``negotiation`` and ``evaluation``; neither imports it. ``role_names``
(``negotiation.games.roles``) needs no inspect_ai: ``main.py check`` lists a game's role names.
"""

from __future__ import annotations

from typing import Any

__all__ = ["negotiation_task", "role_names"]


def __getattr__(name: str) -> Any:
    if name == "role_names":
        from negotiation.games.roles import role_names

        return role_names
    if name == "negotiation_task":
        from negotiation_inspect.tasks import negotiation_task

        return negotiation_task
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
