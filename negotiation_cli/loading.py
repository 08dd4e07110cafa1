"""How commands that read many session logs load them: the one loader, problems reported.

A file that cannot be used is reported on stderr (one escaped line each) and skipped; the
command goes on with the rest, and only fails (exit 2) when nothing usable is left.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from negotiation.core.errors import ConfigError
from negotiation.core.text import printable
from negotiation.logs.reading import LogSet, load_logs


def warn(line: str) -> None:
    """One escaped warning line on stderr."""
    print(f"warning: {printable(line, single_line=True)}", file=sys.stderr)


def say(text: str) -> None:
    """Print text that may hold data from game folders, logs, models or servers, with its
    control characters escaped (newlines kept)."""
    print(printable(text), flush=True)


def load_usable(targets: Path | Sequence[Path]) -> LogSet:
    """The usable logs under the targets; problems become warnings; none usable is an error."""
    found = load_logs(targets)
    for line in found.problems:
        warn(line)
    if not found.entries:
        names = ", ".join(str(t) for t in ([targets] if isinstance(targets, Path) else targets))
        raise ConfigError(f"no usable session logs in {names}")
    return found
