"""Template echoes: answers that repeat the prompt's own placeholder text or example.

A small model that copies "your public message…" into its answer, or proposes the example deal
printed in the format line, follows the format and still says nothing. An echo is counted
beside format failures (``evaluate``, ``leaderboard``, the session report), from the turn's own
logged prompt, so old logs (whose templates showed an example deal and placeholder prose) are
judged by what they were shown:

* a placeholder phrase of the prompt's format section appears in the public message,
  scratchpad or plan;
* a field is nothing but a placeholder (``…``), or the answer keeps the deal slots (``A?,B?``);
* the proposed deal is one that the format section itself prints (``<DEAL>A1,B1,…</DEAL>``),
  except in p1's opening, whose prompt prescribes the opening deal.
"""

from __future__ import annotations

import re

from negotiation.core.game import Deal
from negotiation.core.phases import Phase

FORMAT_MARKERS: tuple[str, ...] = (
    "Write your reply in exactly this format", "Reply with these sections",
    "Answer with one JSON object")
"""How the format section of every party prompt begins (today's templates and older ones)."""
PLACEHOLDER_PHRASES: tuple[str, ...] = (
    "your private reasoning", "your public message", "your public opening message",
    "your public final proposal", "short private notes", "nobody else sees it",
    "compute your score for the deal", "replacing each")
_SLOTS = re.compile(r"\b[A-Z]\?\s*,\s*[A-Z]\?")
_ONLY_PLACEHOLDER = frozenset({"…", "...", "?"})


def format_section(prompt: str) -> str:
    """The part of a prompt from its last format marker on ("" when it has none)."""
    starts = [prompt.rfind(marker) for marker in FORMAT_MARKERS]
    start = max(starts)
    return prompt[start:] if start >= 0 else ""


def template_echo(prompt: str, public: str, scratchpad: str, plan: str,
                  deal: Deal | None, phase: Phase) -> bool:
    """Whether an answer repeats its prompt's placeholder text or example deal."""
    section = format_section(prompt)
    if not section:
        return False
    fields = [f for f in (public, scratchpad, plan) if f]
    lowered = [f.lower() for f in fields]
    if any(p in section and any(p in f for f in lowered) for p in PLACEHOLDER_PHRASES):
        return True
    if any(f.strip() in _ONLY_PLACEHOLDER for f in fields) or _SLOTS.search(public or ""):
        return True
    shown = deal is not None and f"<DEAL>{deal}</DEAL>" in section
    return shown and phase is not Phase.OPENING
