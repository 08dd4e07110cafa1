"""Reads game folders (the paper's format) into validated value objects.

Every problem is raised as ``GameFormatError`` naming the file and line. ``load_scoring`` reads
only ``config.txt`` and ``scores_files/`` (what log folders carry); ``load_game`` reads it all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from negotiation.core.errors import DealError, GameFormatError
from negotiation.core.files import UnsafeFileError, game_file_limit, read_inside
from negotiation.core.game import (
    MAX_ISSUES,
    MAX_OPTIONS,
    MAX_PARTIES,
    MAX_REPRESENTATIVES,
    MIN_OPTIONS,
    PLAYER_ROLE,
    PROPOSER_ROLE,
    ROLES,
    TARGET_ROLE,
    Deal,
    Game,
    Issue,
    Party,
    Scoring,
    representative_names,
)
from negotiation.core.phases import HELPER_PREFIX, is_helper_seat
from negotiation.core.rules import best_deal, parse_deal

DEFAULT_GAMES_DIR = Path(__file__).resolve().parents[2] / "games_descriptions"
_PLACEHOLDER = re.compile(r"#(?:([A-Z])([0-9]+)_NUM|([A-Z])_MAX_NUM|threshold)\b")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.\- ]{1,100}$")


@dataclass(frozen=True)
class ConfigLine:
    """One parsed line of ``config.txt``."""

    name: str
    file_name: str
    role: str
    incentive: str
    model: str
    line: int
    count: int = 1


def resolve_game_path(game: str | Path, games_dir: Path | None = None) -> Path:
    """A game is a folder name under ``games_dir`` or a path to any folder."""
    candidate = Path(game)
    if _exists(candidate, "dir"):
        return candidate
    base = games_dir or DEFAULT_GAMES_DIR
    named = base / str(game)
    if _exists(named, "dir") and "/" not in str(game) and ".." not in str(game):
        return named
    raise GameFormatError(candidate, f"no game folder named {str(game)!r} (looked in {base})")


def _exists(path: Path, kind: str = "file") -> bool:
    """``is_file``/``is_dir`` that treats unusable names (too long, …) as absent."""
    try:
        return path.is_file() if kind == "file" else path.is_dir()
    except OSError:
        return False


def game_root(path: Path) -> Path:
    """The game folder a file belongs to: its nearest folder (up to three levels up) holding a
    ``config.txt``, else its own folder."""
    for folder in list(path.parents)[:3]:
        if _exists(folder / "config.txt"):
            return folder
    return path.parent


def read_text(path: Path) -> str:
    """Read a UTF-8 file of a game folder, turning every problem into ``GameFormatError``: only
    regular files inside the game folder, at most ``NEGOTIATION_MAX_GAME_FILE_BYTES`` (1 MB)."""
    try:
        present = path.exists() or path.is_symlink()
    except OSError:
        present = False
    if not present:
        raise GameFormatError(path, "file is missing")
    try:
        data = read_inside(path, game_root(path).resolve(), game_file_limit())
        return data.decode("utf-8").lstrip("\ufeff")
    except UnsafeFileError as err:
        raise GameFormatError(path, err.reason) from None
    except UnicodeDecodeError as err:
        raise GameFormatError(path, f"not valid UTF-8 ({err.reason} at byte {err.start})") from None


def parse_config(path: Path) -> tuple[ConfigLine, ...]:
    """Parse and validate ``config.txt`` (roles, duplicates, file names)."""
    entries: list[ConfigLine] = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        if not raw.strip():
            continue
        fields = [f.strip() for f in raw.split(",")]
        if len(fields) not in (5, 6):
            raise GameFormatError(path, f"expected 5 comma-separated fields "
                                  f"(name,file_name,role,incentive,model[,count=K]), "
                                  f"got {len(fields)}", number)
        count = _count(path, fields[5], number) if len(fields) == 6 else 1
        entries.append(ConfigLine(*fields[:5], line=number, count=count))
    if not entries:
        raise GameFormatError(path, "config is empty: no party lines")
    if not 2 <= len(entries) <= MAX_PARTIES:
        raise GameFormatError(path, f"a game needs 2-{MAX_PARTIES} parties, got {len(entries)}")
    _validate_config(path, entries)
    return tuple(entries)


def _count(path: Path, field: str, line: int) -> int:
    match = re.fullmatch(r"count\s*=\s*([0-9]{1,2})", field)
    if match is None or not 1 <= int(match.group(1)) <= MAX_REPRESENTATIVES:
        raise GameFormatError(path, f"sixth field must be count=K with K from 1 to "
                              f"{MAX_REPRESENTATIVES}, got {field[:30]!r}", line)
    return int(match.group(1))


def _validate_speakers(path: Path, entries: list[ConfigLine]) -> None:
    seen: set[str] = set()
    for e in entries:
        for name in representative_names(e.name, e.count):
            if name in seen:
                raise GameFormatError(path, f"speaker name {name!r} is used twice (a party "
                                      "with count=K speaks as 'Name 1' … 'Name K')", e.line)
            seen.add(name)


def _validate_config(path: Path, entries: list[ConfigLine]) -> None:
    seen_names: set[str] = set()
    seen_files: set[str] = set()
    seen_roles: set[str] = set()
    for e in entries:
        if not e.name:
            raise GameFormatError(path, "party name is empty", e.line)
        if is_helper_seat(e.name):
            raise GameFormatError(path, f"party name {e.name!r} may not start with "
                                  f"{HELPER_PREFIX!r} (reserved for helper seats)", e.line)
        if e.name in seen_names:
            raise GameFormatError(path, f"duplicate party name {e.name!r}", e.line)
        if not _FILE_NAME.match(e.file_name) or ".." in e.file_name:
            raise GameFormatError(path, f"file_name {e.file_name!r} must be a plain name "
                                  "(no path separator, no '..')", e.line)
        if e.file_name in seen_files:
            raise GameFormatError(path, f"duplicate file_name {e.file_name!r}", e.line)
        if e.role not in ROLES:
            raise GameFormatError(path, f"unknown role {e.role!r} "
                                  f"(expected one of {', '.join(ROLES)})", e.line)
        if e.role != PLAYER_ROLE and e.role in seen_roles:
            raise GameFormatError(path, f"second party with role {e.role!r}", e.line)
        if not e.incentive or not _FILE_NAME.match(e.incentive) or ".." in e.incentive:
            raise GameFormatError(path, f"incentive {e.incentive!r} is not a plain name", e.line)
        seen_names.add(e.name)
        seen_files.add(e.file_name)
        seen_roles.add(e.role)
    _validate_speakers(path, entries)
    for e in entries:
        if e.incentive == "targeted_adv" and TARGET_ROLE not in seen_roles:
            raise GameFormatError(path, f"{e.name!r} is targeted_adv but no party has the "
                                  "role 'target'", e.line)


def parse_scores(path: Path) -> tuple[tuple[tuple[int, ...], ...], int]:
    """Parse a score file: one row per issue, then the minimum on the last line."""
    rows: list[tuple[tuple[int, ...], int]] = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        if not raw.strip():
            continue
        values: list[int] = []
        for cell in raw.split(","):
            cell = cell.strip()
            if not re.fullmatch(r"-?[0-9]{1,6}", cell):
                raise GameFormatError(path, f"{cell[:20]!r} is not an integer score", number)
            values.append(int(cell))
        rows.append((tuple(values), number))
    if len(rows) < 2:
        raise GameFormatError(path, "need at least one issue row and a minimum-score line")
    last, last_line = rows[-1]
    if len(last) != 1:
        raise GameFormatError(path, "missing minimum-score line: the last line must hold "
                              "one number", last_line)
    issue_rows = rows[:-1]
    if len(issue_rows) > MAX_ISSUES:
        raise GameFormatError(path, f"{len(issue_rows)} issues; at most {MAX_ISSUES}")
    for values, number in issue_rows:
        if not MIN_OPTIONS <= len(values) <= MAX_OPTIONS:
            raise GameFormatError(path, f"an issue needs {MIN_OPTIONS}-{MAX_OPTIONS} options, "
                                  f"got {len(values)}", number)
    return tuple(v for v, _ in issue_rows), last[0]


def _check_shapes(folder: Path, config: tuple[ConfigLine, ...],
                  sheets: dict[str, tuple[tuple[int, ...], ...]]) -> tuple[Issue, ...]:
    shapes = {name: tuple(len(r) for r in rows) for name, rows in sheets.items()}
    majority, _ = Counter(shapes.values()).most_common(1)[0]
    odd = [e for e in config if shapes[e.name] != majority]
    if odd:
        files = ", ".join(f"scores_files/{e.file_name}.txt" for e in odd)
        raise GameFormatError(folder / "scores_files" / f"{odd[0].file_name}.txt",
                              f"score sheet shape {shapes[odd[0].name]} differs from the other "
                              f"parties' {majority} (differing: {files})")
    return tuple(Issue(chr(ord("A") + i), n) for i, n in enumerate(majority))


def _override(config: tuple[ConfigLine, ...], path: Path, incentives: Mapping[str, str] | None,
              parties: Sequence[str] | None = None) -> tuple[ConfigLine, ...]:
    names = {e.name for e in config}
    wanted = set(incentives or {}) | set(parties or ())
    unknown = sorted(wanted - names)
    if unknown:
        raise GameFormatError(path, f"no party named {unknown[0]!r} "
                              f"(parties: {', '.join(sorted(names))})")
    out = tuple(replace(e, incentive=(incentives or {}).get(e.name, e.incentive)) for e in config
                if parties is None or e.name in parties)
    if len(out) < 2:
        raise GameFormatError(path, "a party subset needs at least 2 parties")
    if out != config:
        _validate_config(path, list(out))
    return out


def load_scoring(folder: Path | str, incentives: Mapping[str, str] | None = None,
                 parties: Sequence[str] | None = None) -> Scoring:
    """Load the scoring view: ``config.txt`` and ``scores_files/`` only.

    ``incentives`` overrides the incentive column for the named parties; ``parties`` keeps only
    the named parties (a subset game: without p1 the first remaining party chairs).
    """
    folder = Path(folder)
    config = _override(parse_config(folder / "config.txt"), folder / "config.txt", incentives,
                       parties)
    sheets: dict[str, tuple[tuple[int, ...], ...]] = {}
    minimums: dict[str, int] = {}
    for e in config:
        sheets[e.name], minimums[e.name] = parse_scores(folder / "scores_files" / f"{e.file_name}.txt")
    issues = _check_shapes(folder, config, sheets)
    parties = tuple(Party(e.name, e.file_name, e.role, e.incentive, e.model, sheets[e.name],
                          minimums[e.name], e.line, e.count) for e in config)
    return Scoring(folder.resolve().name, folder, issues, parties)


def fill_brief(text: str, path: Path, party: Party, issues: tuple[Issue, ...]) -> str:
    """Replace ``#A1_NUM``, ``#A_MAX_NUM`` and ``#threshold`` with the party's figures."""
    letters = {issue.letter: i for i, issue in enumerate(issues)}

    def value(match: re.Match[str]) -> str:
        letter = match.group(1) or match.group(3)
        if letter is None:
            return str(party.minimum)
        line = text.count("\n", 0, match.start()) + 1
        if letter not in letters:
            raise GameFormatError(path, f"placeholder {match.group(0)} names issue {letter}, "
                                  f"but the game has issues {issues[0].letter}-{issues[-1].letter}", line)
        row = party.scores[letters[letter]]
        if match.group(2) is None:
            return str(max(row))
        digits = match.group(2)
        option = int(digits) if len(digits) <= 3 else 10**3
        if not 1 <= option <= len(row):
            raise GameFormatError(path, f"placeholder {match.group(0)}: issue {letter} has "
                                  f"{len(row)} options", line)
        return str(row[option - 1])

    return _PLACEHOLDER.sub(value, text)


def _load_initial_deal(folder: Path, scoring: Scoring, p1_dropped: bool) -> tuple[Deal, bool]:
    path = folder / "initial_deal.txt"
    if not path.exists() or p1_dropped:
        return best_deal(scoring.proposer), False
    text = read_text(path).strip()
    try:
        return parse_deal(text, scoring.issues), True
    except DealError as err:
        raise GameFormatError(path, str(err), 1) from None


def load_game(folder: Path | str, incentives: Mapping[str, str] | None = None,
              parties: Sequence[str] | None = None) -> Game:
    """Load a full game folder: scoring view, instructions, briefs and initial deal.

    ``incentives`` and ``parties`` are as in ``load_scoring``.
    """
    folder = Path(folder)
    scoring = load_scoring(folder, incentives, parties)
    global_text = read_text(folder / "global_instructions.txt")
    warnings: list[str] = []
    briefs: dict[str, str] = {}
    for party in scoring.parties:
        incentive_dir = folder / "individual_instructions" / party.incentive
        if not _exists(incentive_dir, "dir"):
            raise GameFormatError(folder / "config.txt", f"incentive {party.incentive!r} has no "
                                  f"folder individual_instructions/{party.incentive}/", party.line)
        brief_path = incentive_dir / f"{party.file_name}.txt"
        briefs[party.name] = fill_brief(read_text(brief_path), brief_path, party, scoring.issues)
        if f'"{party.name}"' not in global_text:
            warnings.append(f"{folder / 'global_instructions.txt'}: party {party.name!r} is never "
                            "mentioned in double quotes")
    p1_dropped = not scoring.has_p1 and any(
        e.role == PROPOSER_ROLE for e in parse_config(folder / "config.txt"))
    deal, given = _load_initial_deal(folder, scoring, p1_dropped)
    prompts_dir = folder / "prompts"
    return Game(scoring, global_text, briefs, deal, given,
                prompts_dir if prompts_dir.is_dir() else None, tuple(warnings))
