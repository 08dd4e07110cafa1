"""``report``: the static site's pages, escaping, CSP, and numbers equal to the logs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.request
from html import unescape
from pathlib import Path

import pytest

from evaluation.site import build_site
from evaluation.site.build import slug
from evaluation.site.render import STATIC, fmt_rate
from evaluation.site.sessions import check_deal, split_deals
from evaluation.stats import rate
from negotiation.core.game import Deal
from negotiation.core.rules import parse_deal, score
from negotiation.games.check import summary
from negotiation.games.loader import DEFAULT_GAMES_DIR, load_game
from negotiation.logs.reading import read_log as load_log
from negotiation.logs.records import SessionLog
from negotiation_cli import main
from negotiation_cli.site_cmd import make_server
from tests.reportsite import HOSTILE_ID, IMG, SCRIPT, add_hostile_session, html_tables, scripted_run

ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    root = tmp_path_factory.mktemp("report")
    run = scripted_run(root / "runs")
    add_hostile_session(run)
    out = root / "site"
    return run, build_site([run], out), out


def logs_of(run: Path) -> dict[str, SessionLog]:
    return {log.session_id: log for log in map(load_log, sorted(run.glob("session-*.json")))}


def page_of(out: Path, session_id: str) -> str:
    return (out / f"session-0-{slug(session_id)}.html").read_text(encoding="utf-8")


def test_page_list_and_links(site: tuple[Path, list[Path], Path]) -> None:
    run, written, out = site
    names = [p.name for p in written]
    assert names[0] == "index.html"
    sessions = sorted(n for n in names if n.startswith("session-"))
    assert sessions == sorted(f"session-0-{slug(i)}.html" for i in logs_of(run))
    assert len([n for n in names if n.startswith("game-")]) == 1
    assert {"success_rates.png", "success_rates.svg", "score_curves.png"} <= set(names)
    for page in out.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        for link in re.findall(r'(?:href|src)="([^"#]+)', html):
            if not link.startswith("data:"):
                assert (out / link).is_file(), f"{page.name} links to missing {link}"


def test_model_text_is_escaped(site: tuple[Path, list[Path], Path]) -> None:
    _, _, out = site
    for page in out.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert SCRIPT not in html and IMG not in html and "<img src=x" not in html
        assert html.count("<script") == 1, page.name     # only the report's own script
    hostile = page_of(out, HOSTILE_ID)
    assert hostile.count(ESCAPED_SCRIPT) == 3             # public, scratchpad, plan
    assert hostile.count("&lt;img src=x onerror=alert(1)&gt;") == 3
    game = next(out.glob("game-*.html")).read_text(encoding="utf-8")
    assert ESCAPED_SCRIPT in game                           # the hostile initial prompt


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_csp_allows_only_own_inline_code(site: tuple[Path, list[Path], Path]) -> None:
    _, _, out = site
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "site.js").read_text(encoding="utf-8")
    for page in out.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
        csp = unescape(found.group(1))
        assert "default-src 'none'" in csp and "img-src data:" in csp
        assert f"style-src {_sha(css)}" in csp and f"script-src {_sha(js)}" in csp
        assert f"<style>{css}</style>" in html and f"<script>{js}</script>" in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in html


def test_session_numbers_equal_the_log(site: tuple[Path, list[Path], Path]) -> None:
    run, _, out = site
    for sid, log in logs_of(run).items():
        tables = html_tables(page_of(out, sid))
        parties = tables[0][1:]
        assert [r[0] for r in parties] == [p.name for p in log.parties]
        for row, party in zip(parties, log.parties):
            assert int(row[4]) == party.minimum
            assert int(row[5]) == log.final_scores[party.name]
            turns = [t for t in log.turns if t.party == party.name]
            used = sum(t.input_tokens for t in turns), sum(t.output_tokens for t in turns)
            assert row[7] == f"{used[0]:,} / {used[1]:,}"
        oracles = [t for t in tables if t[0][0].startswith("deal ")]
        dealt = [t for t in sorted(log.turns, key=lambda t: t.index) if t.deal]
        assert len(oracles) == len(dealt) + 1               # + the final proposal
        scoring = log.scoring()
        for table, turn in zip(oracles, dealt):
            deal = turn.deal
            assert table[0][0] == f"deal {turn.deal}"
            cells = table[1][1:-1]
            assert cells == [f"{score(deal, p)} / {p.minimum}" for p in scoring.parties]
            speaker = [p.name for p in scoring.parties].index(turn.party)
            assert cells[speaker].split(" / ")[0] == str(turn.own_score)


def test_session_page_shows_every_turn_and_outcomes(site: tuple[Path, list[Path], Path]) -> None:
    run, _, out = site
    for sid, log in logs_of(run).items():
        html = page_of(out, sid)
        assert html.count('<article class="turn') == len(log.turns)
        assert html.count('<details class="private">') == sum(
            bool(t.scratchpad or t.plan) for t in log.turns)
        outcome = next(t for t in html_tables(html) if t[0][0] == "threshold outcome")
        assert outcome[0][1] == ("passes" if log.threshold_outcome.passes else "fails")
        assert outcome[1][3] == "accepting: " + ", ".join(log.vote_outcome.accepting)
        assert html.count("<polyline") == len(log.parties)


def test_index_numbers_equal_the_logs(site: tuple[Path, list[Path], Path]) -> None:
    run, _, out = site
    logs = list(logs_of(run).values())
    tables = html_tables((out / "index.html").read_text(encoding="utf-8"))
    runs = next(t for t in tables if t[0][0] == "run")
    row = runs[1]
    assert row[1:5] == [str(len(logs)), "0", "0", "0"]
    tokens_in = sum(t.input_tokens for lg in logs for t in lg.turns)
    tokens_out = sum(t.output_tokens for lg in logs for t in lg.turns)
    assert row[8] == f"{tokens_in:,} / {tokens_out:,}"
    board = next(t for t in tables if t[0][0] == "model")
    assert len(board) == 2 and board[1][0] == "scripted:rational"
    assert board[1][1] == str(len(logs))
    passes = sum(lg.threshold_outcome.passes for lg in logs)
    assert board[1][2] == fmt_rate(rate(passes, len(logs)))
    sessions = next(t for t in tables if t[0][0] == "session")
    assert sorted(r[0] for r in sessions[1:]) == sorted(lg.session_id for lg in logs)


def test_game_page_matches_check(site: tuple[Path, list[Path], Path]) -> None:
    _, _, out = site
    expected = summary(load_game(DEFAULT_GAMES_DIR / "base"))
    tables = html_tables(next(out.glob("game-*.html")).read_text(encoding="utf-8"))
    sheets = next(t for t in tables if t[0][0] == "option")
    assert sheets[-1][1:] == [str(p["minimum"]) for p in expected["parties"]]
    feasible = next(t for t in tables if t[0][0] == "comparison")
    for row, cmp in zip(feasible[1:], (">=", ">")):
        assert row[2].startswith(f"{expected['feasible'][cmp]} (")
        assert row[3] == str(expected["unanimous"][cmp])
        assert row[4] == str(len(expected["analysis"][cmp]["pareto"]))
    pareto = next(t for t in tables if t[0][0] == "deal" and len(t[0]) > 3)
    assert [r[0] for r in pareto[1:]] == expected["analysis"][">="]["pareto"]


def test_failed_and_unfinished_sessions(tmp_path: Path) -> None:
    run = scripted_run(tmp_path / "runs")
    first, second = sorted(run.glob("session-*.json"))
    for path, status in ((first, "failed"), (second, "running")):
        data = json.loads(path.read_text(encoding="utf-8"))
        data.update(status=status, turns=data["turns"][:3], final_deal=None, final_scores={},
                    threshold_outcome=None, vote_outcome=None, outcomes_differ=None,
                    error=f"boom {SCRIPT}" if status == "failed" else None)
        path.write_text(json.dumps(data), encoding="utf-8")
    (run / "session-broken.json").write_text("{not json", encoding="utf-8")
    out = tmp_path / "site"
    written = build_site([run], out)
    assert len([p for p in written if p.name.startswith("session-")]) == 2
    tables = html_tables((out / "index.html").read_text(encoding="utf-8"))
    row = next(t for t in tables if t[0][0] == "run")[1]
    assert row[1:5] == ["0", "1", "1", "1"]
    html = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.html"))
    assert SCRIPT not in html and "boom &lt;script&gt;" in html
    assert "No complete session could be evaluated" in html


def test_split_deals_and_checks() -> None:
    assert split_deals("a <DEAL>A1</DEAL> b") == (("a ", False), ("<DEAL>A1</DEAL>", True),
                                                 (" b", False))
    assert split_deals("") == (("", False),)
    game = load_game(DEFAULT_GAMES_DIR / "base").scoring
    assert check_deal(Deal((9,)), game) is None and check_deal(None, game) is None
    assert check_deal(Deal((1, 1, 4, 1, 9)), game) is None
    check = check_deal(parse_deal("a1,b1,c4,d1,e5", game.issues), game)
    assert check is not None and check.deal == "A1,B1,C4,D1,E5"
    assert slug("../../etc/passwd") == "etc-passwd" and slug("") == "x"


def test_cli_report_and_errors(site: tuple[Path, list[Path], Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    run, _, _ = site
    assert main(["report", str(run), "--out", str(tmp_path / "s"), "--rules", "paper"]) == 0
    assert (tmp_path / "s" / "index.html").is_file()
    assert "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "t")]) == 2
    assert main(["report", str(run), "--out", str(tmp_path / "t"), "--port", "-1"]) == 2


def test_serve_binds_localhost_only(site: tuple[Path, list[Path], Path]) -> None:
    _, _, out = site
    server = make_server(out, 0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as reply:
            assert reply.status == 200 and b"Negotiation report" in reply.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
