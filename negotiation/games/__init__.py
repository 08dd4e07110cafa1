"""Game folders: reading them (the paper's format), checking them, authoring variants.

Public API: ``load_game``, ``load_scoring``, ``resolve_game_path``, ``DEFAULT_GAMES_DIR``
(loader); ``validate``, ``summary``, ``render_all`` (check); ``harden`` and the authoring
commands behind ``main.py game``.
"""

from negotiation.core.lazy import lazy_exports

__all__ = [
    "load_game",
    "load_scoring",
    "resolve_game_path",
    "DEFAULT_GAMES_DIR",
    "validate",
    "summary",
    "render_all",
    "harden",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "load_game": "negotiation.games.loader",
        "load_scoring": "negotiation.games.loader",
        "resolve_game_path": "negotiation.games.loader",
        "DEFAULT_GAMES_DIR": "negotiation.games.loader",
        "validate": "negotiation.games.check",
        "summary": "negotiation.games.check",
        "render_all": "negotiation.games.check",
        "harden": "negotiation.games.harden",
    },
)
