"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package names its public API once, as a mapping from name to the module that defines it;
importing the package imports nothing else until a name is used, so the layers never import
each other in a cycle through an ``__init__``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` on first use."""
    table = MappingProxyType(dict(names))

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(table[name]), name)

    return __getattr__
