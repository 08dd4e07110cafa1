"""Argument parsing with the harness's error contract: one line, exit 2, nothing written."""

from __future__ import annotations

import argparse
from typing import NoReturn

from negotiation.core.errors import ConfigError


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are ``ConfigError`` (printed as one line by main)."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"{self.prog}: {message}")
