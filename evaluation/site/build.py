"""``build_site``: write the static report of some runs (index, session and game pages).

Layout of the output folder (flat, so every link is a plain relative file name)::

    index.html                       leaderboard, figures, per-run configuration and costs
    session-<run>-<session id>.html  one per native session log
    game-<name>-<digest>.html        one per game as played
    plots/*.png, plots/*.svg         the ``plot`` command's figures (also inlined as data URIs)

Pages are self-contained (CSS and script inline, images as ``data:`` URIs) and open from
disk without a server or a network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluation.aggregate import EvalOptions
from evaluation.leaderboard import leaderboard_rows
from evaluation.rulesets import get_rules
from evaluation.site.charts import evaluation_figures
from evaluation.site.games import GameView, game_view, scoring_key
from evaluation.site.render import environment, write_page
from evaluation.site.runs import LoadedLog, RunInfo, load_run
from evaluation.site.sessions import SessionView, session_view
from negotiation.runs.costs import PriceTable, default_prices_path, load_prices

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str, limit: int = 48) -> str:
    """A file-name-safe version of ``text`` (never empty, never a path)."""
    return _UNSAFE.sub("-", text).strip("-")[:limit] or "x"


def _prices(path: Path | None) -> PriceTable | None:
    chosen = path if path is not None else default_prices_path()
    return load_prices(chosen) if chosen is not None else None


def _game_views(infos: Sequence[RunInfo]) -> dict[str, tuple[GameView, str]]:
    """Game key -> (view, page name)."""
    firsts: dict[str, LoadedLog] = {}
    counts: dict[str, int] = {}
    for info in infos:
        for item in info.logs:
            key = scoring_key(item.log)
            firsts.setdefault(key, item)
            counts[key] = counts.get(key, 0) + 1
    return {key: (game_view(item.log, counts[key]),
                  f"game-{slug(item.log.game.name)}-{key}.html")
            for key, item in firsts.items()}


def _session_views(infos: Sequence[RunInfo],
                   games: dict[str, tuple[GameView, str]]) -> list[SessionView]:
    views: list[SessionView] = []
    taken: set[str] = set()
    for info in infos:
        for item in info.logs:
            base = f"session-{info.index}-{slug(item.log.session_id)}"
            page, n = f"{base}.html", 1
            while page in taken:
                n += 1
                page = f"{base}-{n}.html"
            taken.add(page)
            game_page = games[scoring_key(item.log)][1]
            views.append(session_view(item.log, item.path, page, game_page, info.label))
    return views


def _metrics_by_source(infos: Sequence[RunInfo]) -> dict[str, dict[str, Any]]:
    """Evaluation's per-session row (under the chosen rules), keyed by log path."""
    return {row["source"]: row for info in infos if info.entry
            for row in info.entry["sessions"]}


def _index_context(infos: Sequence[RunInfo], views: Sequence[SessionView],
                   games: dict[str, tuple[GameView, str]], out: Path, rules: str,
                   seed: int) -> dict[str, Any]:
    results = [r for info in infos for r in info.results]
    rows = leaderboard_rows(results, "model", seed) if results else []
    entries = [info.entry for info in infos if info.results and info.entry]
    return {"runs": infos, "rows": rows, "rules": rules,
            "figures": evaluation_figures(rows, entries, out / "plots"),
            "sessions": views, "metrics": _metrics_by_source(infos),
            "games": [g for g, _ in games.values()],
            "game_pages": {k: page for k, (_, page) in games.items()}}


def build_site(runs: list[Path], out: Path, *, rules: str = "default", seed: int = 0,
               prices: Path | None = None, problems: list[str] | None = None) -> list[Path]:
    """Write the report of ``runs`` into ``out``; return the files written (index first).

    ``rules`` and ``seed`` are those of ``evaluate`` / ``leaderboard``; ``prices`` is a price
    table (default: ``./prices.yaml``, else the shipped example). Files that could not be
    used are listed on the index page and, one line each, appended to ``problems``.
    """
    options = EvalOptions(get_rules(rules), None, seed)
    table = _prices(prices)
    infos = [load_run(Path(p), i, options, table) for i, p in enumerate(runs)]
    if problems is not None:
        problems += [f"{e['path']}: {e['error']}" for info in infos for e in info.errors()]
    games = _game_views(infos)
    views = _session_views(infos, games)
    out.mkdir(parents=True, exist_ok=True)
    env = environment()
    context = _index_context(infos, views, games, out, rules, seed)
    written = [write_page(env, "index.html.j2", out / "index.html", **context,
                          prices=table)]
    for view in views:
        written.append(write_page(env, "session.html.j2", out / view.page, s=view))
    for game, page in games.values():
        written.append(write_page(env, "game.html.j2", out / page, g=game))
    written += sorted((out / "plots").glob("*.*")) if context["figures"] else []
    return written
