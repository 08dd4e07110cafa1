"""The error types of the library.

Game folders come from strangers, so every problem found while reading one is reported as a
single, documented error type whose message names the file (and line, when there is one). The
CLI turns these into exit status 2 without writing anything.
"""

from __future__ import annotations

from pathlib import Path


class GameFormatError(ValueError):
    """A game folder (or one of its files) is malformed.

    The message reads ``PATH[:LINE]: what is wrong``.
    """

    def __init__(self, path: Path | str, message: str, line: int | None = None) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")


class DealError(ValueError):
    """A deal string could not be parsed against a game's issues."""


class TemplateError(ValueError):
    """A prompt template is missing, references an undefined variable, or broke the sandbox."""


class ConfigError(ValueError):
    """A command-line option, model spec or run configuration is invalid."""
