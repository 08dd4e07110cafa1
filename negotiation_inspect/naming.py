"""How the tasks, scorer and metrics of this package get the ``negotiation/`` prefix in inspect.

inspect_ai names an object registered from an installed package ``<package>/<name>``, with
``<package>`` the top-level *module* of the object, and loads the entry point whose name is that
package when a ``<package>/<name>`` is looked up (``inspect eval negotiation/base``). This
package's top-level module is ``negotiation_inspect`` while the distribution (and its entry
point) is ``negotiation``, so each registered function is attributed to the ``negotiation``
module before it is decorated; everything else about it (source file, imports) is unchanged.
When inspect loads ``negotiation_inspect/tasks.py`` as a file (``inspect eval
negotiation_inspect/tasks.py@base``, the form ``inspect list tasks`` prints) the module is not
this package's and the names stay plain (``base``), as inspect expects for file tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

PACKAGE = "negotiation"
"""The namespace of this package's tasks, scorer and metrics, and its entry-point name."""

F = TypeVar("F", bound=Callable[..., object])


def in_package(obj: F) -> F:
    """Attribute ``obj`` to the ``negotiation`` namespace (apply below the inspect decorator)
    when it comes from this package's modules."""
    if obj.__module__.split(".")[0] == __name__.split(".")[0]:
        obj.__module__ = PACKAGE
    return obj
