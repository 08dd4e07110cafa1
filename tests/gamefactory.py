"""Builds game folders (the paper's format) in a temporary directory for loader/CLI tests.

``write_game`` writes a complete, valid folder from ``PartySpec`` objects; tests then break one
file on purpose. ``copy_shipped`` copies one of ``games_descriptions/``. ``snapshot`` records a
folder's files (path -> bytes) to prove a command wrote nothing.
"""

from __future__ import annotations

import shutil
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from negotiation.core.game import Issue, Party, Scoring

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "games_descriptions"
SHIPPED_GAMES = ("base", "base_7parties", "hospital_merger", "oss_licence", "river_dam")


@dataclass
class PartySpec:
    """One party of a generated game: its config line, score sheet and (optional) brief."""

    name: str
    file_name: str
    scores: list[list[int]]
    minimum: int
    role: str = "player"
    incentive: str = "cooperative"
    model: str = "default"
    brief: str | None = None
    """Brief text; ``None`` writes a default brief using every placeholder kind."""


def default_brief(spec: PartySpec) -> str:
    """A brief naming the party in quotes, using every placeholder kind.

    (``#X<k>_NUM``, ``#X_MAX_NUM`` and ``#threshold``.)
    """
    lines = [f'You represent "{spec.name}".', ""]
    for i, row in enumerate(spec.scores):
        letter = string.ascii_uppercase[i]
        points = ", ".join(f"{letter}{k} #{letter}{k}_NUM" for k in range(1, len(row) + 1))
        lines.append(f"- Issue {letter}: {points} (best #{letter}_MAX_NUM).")
    lines += ["", "You cannot accept any deal that scores less than #threshold points for you."]
    return "\n".join(lines) + "\n"


def default_global(parties: Sequence[PartySpec]) -> str:
    """Global instructions naming every party in double quotes."""
    names = ", ".join(f'"{p.name}"' for p in parties)
    return f"A test negotiation between {names}.\n\nEach party's priorities are confidential.\n"


def scores_text(spec: PartySpec) -> str:
    """The score file: one comma-separated row per issue, then the minimum."""
    rows = [",".join(str(v) for v in row) for row in spec.scores]
    return "\n".join(rows + [str(spec.minimum)]) + "\n"


def config_text(parties: Sequence[PartySpec]) -> str:
    """``config.txt`` lines ``name,file_name,role,incentive,model``."""
    return "".join(f"{p.name},{p.file_name},{p.role},{p.incentive},{p.model}\n" for p in parties)


def write_game(root: Path, parties: Sequence[PartySpec], *, name: str = "game",
               initial_deal: str | None = "A1,B1", global_text: str | None = None,
               extra_files: Mapping[str, str] | None = None) -> Path:
    """Write a game folder ``root/name`` and return its path.

    ``initial_deal=None`` leaves ``initial_deal.txt`` out. ``extra_files`` maps relative paths
    (e.g. ``prompts/initial.j2``) to text and is written last, so it may overwrite files.
    """
    folder = root / name
    (folder / "scores_files").mkdir(parents=True)
    (folder / "config.txt").write_text(config_text(parties), encoding="utf-8")
    (folder / "global_instructions.txt").write_text(
        default_global(parties) if global_text is None else global_text, encoding="utf-8")
    for p in parties:
        (folder / "scores_files" / f"{p.file_name}.txt").write_text(scores_text(p),
                                                                    encoding="utf-8")
        brief_dir = folder / "individual_instructions" / p.incentive
        brief_dir.mkdir(parents=True, exist_ok=True)
        (brief_dir / f"{p.file_name}.txt").write_text(
            default_brief(p) if p.brief is None else p.brief, encoding="utf-8")
    if initial_deal is not None:
        (folder / "initial_deal.txt").write_text(initial_deal + "\n", encoding="utf-8")
    for rel, text in (extra_files or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


def small_parties() -> list[PartySpec]:
    """Three parties (p1, p2, player), issues A (3 options) and B (2 options)."""
    return [
        PartySpec("Alpha Corp", "alpha", [[10, 5, 0], [8, 0]], 10, role="p1"),
        PartySpec("Beta Board", "beta", [[0, 6, 12], [0, 9]], 12, role="p2"),
        PartySpec("Gamma Group", "gamma", [[4, 8, 2], [7, 3]], 9),
    ]


def small_game(root: Path, name: str = "small", **kwargs: object) -> Path:
    """A valid 3-party, 2-issue game folder (6 deals)."""
    return write_game(root, small_parties(), name=name, **kwargs)  # type: ignore[arg-type]


def n_party_specs(n: int, *, roles: Sequence[str] | None = None) -> list[PartySpec]:
    """``n`` parties over issues A (3 options) and B (2 options); roles default to players."""
    roles = list(roles) if roles is not None else ["player"] * n
    return [PartySpec(f"Party {i + 1}", f"party{i + 1}", [[i, 2 * i, 3], [1, i]], i,
                      role=roles[i]) for i in range(n)]


def copy_shipped(root: Path, game: str = "base", name: str | None = None) -> Path:
    """Copy ``games_descriptions/<game>`` to ``root/<name or game>``."""
    target = root / (name or game)
    shutil.copytree(SHIPPED / game, target)
    return target


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> content), directories as empty entries."""
    out: dict[str, bytes] = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        out[rel + ("/" if p.is_dir() else "")] = p.read_bytes() if p.is_file() else b""
    return out


def make_scoring(sheets: Sequence[tuple[str, Sequence[Sequence[int]], int]],
                 name: str = "built", path: Path | None = None) -> Scoring:
    """A ``Scoring`` built directly: ``(role, score rows, minimum)`` per party."""
    shape = [len(row) for row in sheets[0][1]]
    issues = tuple(Issue(string.ascii_uppercase[i], n) for i, n in enumerate(shape))
    parties = tuple(Party(f"P{j}", f"p{j}", role, "cooperative", "default",
                          tuple(tuple(r) for r in rows), minimum, j + 1)
                    for j, (role, rows, minimum) in enumerate(sheets))
    return Scoring(name, path or Path(name), issues, parties)

