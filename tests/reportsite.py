"""Shared helpers of the report tests: scripted runs, a hostile session, an HTML table reader."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from negotiation_cli import main

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = f"Take it {SCRIPT} or {IMG} & \"quote\" 'apostrophe'"
HOSTILE_ID = "000-hostile"


def scripted_run(root: Path, name: str = "r") -> Path:
    """Two sessions of the base game with the scripted rational model (about a second)."""
    code = main(["--game", "base", "--model", "scripted:rational", "--rounds", "6",
                 "--sessions", "2", "--out", str(root), "--name", name, "--quiet"])
    assert code == 0
    return root / name


def add_hostile_session(run: Path) -> Path:
    """A copy of a session whose round turn, scratchpad, plan and p1 prompt hold HTML.

    It sorts first (session index 0, then its id before any hex id), so the game page also
    shows its (hostile) initial prompt.
    """
    source = sorted(run.glob("session-*.json"))[0]
    data = json.loads(source.read_text(encoding="utf-8"))
    data["session_id"], data["session_index"] = HOSTILE_ID, 0
    turn = data["turns"][1]
    turn["public"] = f"{HOSTILE} <DEAL>{','.join(turn['deal'])}</DEAL>"
    turn["scratchpad"] = f"private {HOSTILE}"
    turn["plan"] = f"plan {HOSTILE}"
    data["parties"][0]["initial_prompt"] += f"\n{HOSTILE}"
    path = run / f"session-{HOSTILE_ID}.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.tables:
            self.tables[-1][-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(html: str) -> list[list[list[str]]]:
    """Every table of a page as rows of cell texts (entities decoded, spaces collapsed)."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables
