"""Text from game folders, models and servers is data: shown, never interpreted.

``printable`` escapes control characters (ANSI escape sequences, BEL, carriage returns, the C1
range) before anything reaches a terminal, so a party name or an error body cannot recolour,
retitle or clear the user's terminal. Newlines and tabs are kept unless ``single_line``.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


def printable(text: str, single_line: bool = False) -> str:
    """``text`` with control characters written as escapes (``\\x1b``, ``\\x07``, …)."""
    pattern = _CONTROL_LINE if single_line else _CONTROL
    return pattern.sub(_escape, text)
