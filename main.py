"""Thin entry point: ``python main.py --game base`` runs a negotiation; see ``--help``."""

import sys

from negotiation.cli import main

if __name__ == "__main__":
    sys.exit(main())
