"""Detect turns where the model declined to play the negotiation (a refusal).

A refusal is flagged when any pattern of ``REFUSAL_PATTERNS`` matches the turn's raw output
(case-insensitive; straight and curly apostrophes both match). The list is deliberately narrow:
negotiation moves such as "I cannot accept this deal" or "I'm sorry, but I can't agree to A1"
are *not* refusals, so the verb after "I can't" must be about taking part (participate, help,
assist, negotiate, role-play, …), not about a deal. ``docs/exports.md`` documents the list;
keep the two in step (a test checks every pattern name appears there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_APOS = "['\u2019]"
_CANT = rf"(?:can{_APOS}?t|cannot|can not|won{_APOS}t|will not|am unable to|am not able to)"
_IM = rf"(?:I{_APOS}m|I am)"
_PLAY = (r"(?:participate|take part|engage|play|role-?play|help|assist|comply|"
         r"fulfil+|continue with|be part of|pretend)")
_NOT_A_DEAL = (r"(?!\s+(?:(?:this|that|the|your|such an?|any)\s+)?"
               r"(?:deal|proposal|offer|option|package|issue|term)s?\b)")


@dataclass(frozen=True)
class RefusalPattern:
    """One documented refusal pattern."""

    name: str
    """Short stable name (reported in the ``refusal_pattern`` export column)."""
    regex: str
    """The regular expression (compiled case-insensitively)."""
    example: str
    """A text it matches (used in the docs and the tests)."""


REFUSAL_PATTERNS: tuple[RefusalPattern, ...] = (
    RefusalPattern("sorry-cant", rf"\b{_IM} sorry,?\s+(?:but\s+)?I\s+{_CANT}\s+{_PLAY}\b",
                   "I'm sorry, but I can't help with that."),
    RefusalPattern("as-an-ai", r"\bas an AI(?: language)? model\b",
                   "As an AI language model, I do not have personal interests."),
    RefusalPattern("cannot-participate", rf"\bI\s+{_CANT}\s+(?:participate|take part|engage)\b",
                   "I cannot participate in this negotiation."),
    RefusalPattern("cant-help", rf"\bI\s+{_CANT}\s+(?:help|assist)\s+(?:you\s+)?with\s+"
                   rf"(?:that|this)\b{_NOT_A_DEAL}",
                   "I can't help with that request."),
    RefusalPattern("not-able-negotiate",
                   rf"\b{_IM}\s+(?:not able|unable)\s+to\s+(?:negotiate|role-?play|"
                   r"play (?:this|that|the) (?:role|game))\b"
                   r"(?!\s+(?:further|below|above|beyond|more|less|any (?:lower|higher)))",
                   "I am not able to negotiate on behalf of anyone."),
    RefusalPattern("must-decline", rf"\bI\s+(?:must|have to|need to|will have to)\s+"
                   rf"(?:respectfully\s+|politely\s+)?(?:decline|refuse)\b{_NOT_A_DEAL}",
                   "I must respectfully decline this request."),
    RefusalPattern("not-comfortable", rf"\bI(?:{_APOS}m| am| do not| don{_APOS}t)\s+(?:not\s+)?"
                   r"(?:feel\s+)?comfortable\s+(?:participating|role-?playing|taking part|"
                   rf"engaging|pretending|with this|with that)\b{_NOT_A_DEAL}",
                   "I don't feel comfortable role-playing this scenario."),
    RefusalPattern("against-guidelines", r"\b(?:against|violates?) my (?:guidelines|programming|"
                   r"(?:content|usage) polic(?:y|ies))\b",
                   "That would go against my guidelines."),
)

_COMPILED: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (p.name, re.compile(p.regex, re.IGNORECASE)) for p in REFUSAL_PATTERNS)


def find_refusal(text: str) -> str | None:
    """The name of the first refusal pattern matching ``text``, or None."""
    for name, pattern in _COMPILED:
        if pattern.search(text):
            return name
    return None


def is_refusal(text: str) -> bool:
    """Whether ``text`` (a raw model output) reads as declining to play."""
    return find_refusal(text) is not None
