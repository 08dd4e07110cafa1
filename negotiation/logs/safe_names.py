"""Names that become file or folder names: one rule for run names, session ids, file names.

Everything written under an output folder is named from data (a run's ``--name`` or YAML
``name``, a log's session id, a party's file name), and data may come from strangers. A safe
name is one path component: no separator, not ``.`` or ``..``, no control character, not
starting with ``.``, at most 128 characters.
"""

from __future__ import annotations

import re

from negotiation.core.errors import ConfigError

_SAFE = re.compile(r"^[^/\\\x00-\x1f\x7f.][^/\\\x00-\x1f\x7f]{0,127}$")


def unsafe_reason(name: str) -> str | None:
    """Why ``name`` is not a safe single path component (None when it is)."""
    if not name:
        return "is empty"
    if name in (".", ".."):
        return "is not a name"
    if not _SAFE.match(name):
        return ("must be one path component: no '/', '\\', control characters or leading "
                "'.', at most 128 characters")
    return None


def safe_component(name: str, what: str) -> str:
    """``name`` itself when it is a safe path component, else ``ConfigError`` naming ``what``."""
    reason = unsafe_reason(name)
    if reason is not None:
        raise ConfigError(f"{what} {name[:60]!r} {reason}")
    return name


def check_safe(name: str) -> str:
    """A pydantic validator: ``ValueError`` for an unsafe name."""
    reason = unsafe_reason(name)
    if reason is not None:
        raise ValueError(f"{name[:60]!r} {reason}")
    return name
