"""The static HTML report of runs: leaderboard, figures, transcripts with the oracle view.

``build_site(runs, out)`` writes ``index.html``, one page per session and one per game into
``out``; see ``docs/report.md``. Pages are self-contained and every text from a model or a
game folder is HTML-escaped.
"""

from evaluation.site.build import build_site

__all__ = ["build_site"]
