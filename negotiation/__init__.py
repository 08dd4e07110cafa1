"""negotiation: a harness for scorable multi-agent LLM negotiation (arXiv 2309.17234).

Data flows from ``games_descriptions/`` through the game loader, rules core and prompt
templates to the round engine and model backends, which write session logs for ``evaluation/``.
"""

__version__ = "0.1.0"
