"""Model-role names of a game: which inspect ``--model-role`` plays which seat.

Every party answers to the slug of its name (lower case, accents folded, spaces to ``_``, any
other character removed: ``Department of Tourism`` -> ``department_of_tourism``); the parties
with the veto roles also answer to ``p1`` and ``p2``; the helper seats to ``summarizer`` and
``moderator``. Precedence for a party's seat: its own slug > ``p1``/``p2`` > the eval's default
model (``--model``) > the model column of ``config.txt``.

Two parties whose names give the same slug get ``_2``, ``_3`` … in config order; a name with no
letter or digit left is ``party_<n>`` (1-based position). A party slug that equals one of the
fixed names (``p1``, ``summarizer`` …) takes it: the fixed meaning is then not available.
"""

from __future__ import annotations

import re
import unicodedata

from negotiation.core.game import VETO_ROLES, Game
from negotiation.core.phases import HelperRole

_DROP = re.compile(r"[^a-z0-9_]")
FIXED_ROLES: tuple[str, ...] = (*VETO_ROLES, *(h.value for h in HelperRole))
"""Role names that do not come from a party name: p1, p2, summarizer, moderator."""


def slug(name: str) -> str:
    """``St. Brigid's Board`` -> ``st_brigids_board`` (may be empty)."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _DROP.sub("", folded.lower().replace(" ", "_"))


def party_roles(game: Game) -> dict[str, str]:
    """Party-name role -> party name, in config order (collisions numbered)."""
    out: dict[str, str] = {}
    for position, party in enumerate(game.scoring.parties, start=1):
        base = slug(party.name).strip("_") or f"party_{position}"
        name, n = base, 1
        while name in out:
            n += 1
            name = f"{base}_{n}"
        out[name] = party.name
    return out


def role_names(game: Game) -> dict[str, str]:
    """Every role name of ``game`` -> the party (or helper seat, ``@summarizer``) it plays.

    Party slugs first (config order), then ``p1`` and ``p2`` where a party has that role, then
    the helper roles. This is what ``main.py check GAME`` lists (``roles`` of ``check --json``).
    """
    out = party_roles(game)
    for role in VETO_ROLES:
        holder = next((p.name for p in game.scoring.parties if p.role == role), None)
        if holder is not None and role not in out:
            out[role] = holder
    for helper in HelperRole:
        if helper.value not in out:
            out[helper.value] = helper.seat
    return out


def roles_of_seat(game: Game, seat: str) -> tuple[str, ...]:
    """The role names that may choose the model of ``seat`` (a party name or ``@helper``),
    most specific first."""
    names = role_names(game)
    own = tuple(role for role, target in party_roles(game).items() if target == seat)
    veto = tuple(r for r in VETO_ROLES if names.get(r) == seat and r not in own)
    helper = tuple(h.value for h in HelperRole if h.seat == seat and names.get(h.value) == seat)
    return own + veto + helper
