"""Thin entry point: ``python main.py --game base`` runs a negotiation; see ``--help``."""

import signal
import sys

from negotiation_cli import main

if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `python main.py games | head` ends quietly
    sys.exit(main())
