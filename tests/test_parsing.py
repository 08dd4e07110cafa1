"""Table and property tests for ``negotiation.protocol.parsing`` over outputs small models really write."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from negotiation.core.game import Deal, Issue
from negotiation.protocol.parsing import (
    ParsedOutput,
    extract_deal,
    mentioned_options,
    parse_output,
    parse_vote,
)

ISSUES = tuple(Issue(letter, n) for letter, n in zip("ABCDE", (3, 3, 4, 4, 5)))
OTHERS = ("Mayor", "Local Labour Union", "Department of Tourism")
CLEAN = (
    "<SCRATCHPAD>I want A1 badly; the Mayor wants C2.</SCRATCHPAD>\n"
    "<ANSWER>I propose a fair middle ground. <DEAL>A1,B2,C3,D1,E4</DEAL></ANSWER>\n"
    "<PLAN>Push for A1 next round.</PLAN>"
)
DEAL_13141 = Deal((1, 2, 3, 1, 4))
REPEAT = CLEAN + "\n<SCRATCHPAD>Now as the Mayor</SCRATCHPAD><ANSWER>I reject it</ANSWER>"
NO_ANSWER = "<SCRATCHPAD>mine is A1</SCRATCHPAD>\nI suggest A2, B1, C1, D2, E5.\n<PLAN>x</PLAN>"
SECRET_ANSWER = (
    "<SCRATCHPAD>I will write <ANSWER> later, secretly want E5</SCRATCHPAD>\n"
    "<ANSWER>Let us agree on <DEAL>A1,B2,C3,D1,E4</DEAL>.</ANSWER>"
)
FENCED = (
    "```xml\n<SCRATCHPAD>s</SCRATCHPAD>\n<ANSWER>I offer <DEAL>A1,B2,C3,D1,E4</DEAL></ANSWER>\n```"
)
INNER_FENCE = "<SCRATCHPAD>s</SCRATCHPAD>\n<ANSWER>\n```\nHello all.\n```\n</ANSWER>"
LOWER = "<scratchpad>s</scratchpad>\n< answer >Take <deal>a1, b2, c3, d1, e4</deal>.</ ANSWER >"
TWO_DEALS = "<ANSWER>Not <DEAL>A2,B2,C3,D1,E4</DEAL> but <DEAL>A1,B2,C3,D1,E4</DEAL>.</ANSWER>"
ROLE = "<ANSWER>I propose A1, B2, C3, D1, E4.\nMayor: I agree, SportCo.</ANSWER>"
BOLD_ROLE = "<ANSWER>Fine by me.</ANSWER>\n<PLAN>p</PLAN>\n**Local Labour Union**: never!"
ADDRESS = "<ANSWER>Mayor: I hear you. <DEAL>A1,B2,C3,D1,E4</DEAL></ANSWER>"
ONLY_SCRATCH_DEAL = "<SCRATCHPAD><DEAL>A1,B2,C3,D1,E4</DEAL></SCRATCHPAD><ANSWER>Hello.</ANSWER>"
PLAN_DEAL = "<ANSWER>Hello.</ANSWER><PLAN>next: <DEAL>A1,B2,C3,D1,E4</DEAL></PLAN>"
GARBAGE = ("<<< ANS\u00e9WER > /SCRATCH \n" * 800 + "   \t" * 500)[:20_000]

TABLE: list[tuple[str, str, dict[str, Any]]] = [
    ("clean", CLEAN, dict(public="I propose a fair middle ground. <DEAL>A1,B2,C3,D1,E4</DEAL>",
                          deal=DEAL_13141, deal_source="tag", repairs=(), issues=(),
                          found=("SCRATCHPAD", "ANSWER", "PLAN", "DEAL"), format_ok=True,
                          scratchpad="I want A1 badly; the Mayor wants C2.",
                          plan="Push for A1 next round.")),
    ("no-tags", "We should take A1, B2, C3, D1 and E4 together.",
     dict(deal=DEAL_13141, deal_source="text", found=(), format_ok=False,
          repairs=("no ANSWER tag: public = output minus private sections",))),
    ("no-answer-private-removed", NO_ANSWER,
     dict(public="I suggest A2, B1, C1, D2, E5.", deal=Deal((2, 1, 1, 2, 5)),
          scratchpad="mine is A1")),
    ("unclosed-answer", "<SCRATCHPAD>s</SCRATCHPAD><ANSWER>Deal? <DEAL>A1,B2,C3,D1,E4</DEAL>",
     dict(public="Deal? <DEAL>A1,B2,C3,D1,E4</DEAL>", deal=DEAL_13141,
          repairs=("unclosed ANSWER",))),
    ("plan-inside-answer", "<ANSWER>Hi all. <PLAN>secret E5</PLAN></ANSWER>",
     dict(public="Hi all.", plan="secret E5", repairs=("unclosed ANSWER",))),
    ("double-answer-opening", "<ANSWER><ANSWER>Hello.</ANSWER>", dict(public="Hello.")),
    ("orphan-answer-close", "<SCRATCHPAD>s</SCRATCHPAD>\nI offer A1.</ANSWER><PLAN>p</PLAN>",
     dict(public="I offer A1.", plan="p", repairs=("missing ANSWER opening tag",))),
    ("unclosed-scratchpad", "<SCRATCHPAD>want E5\n<ANSWER>Hi all.</ANSWER>",
     dict(public="Hi all.", scratchpad="want E5", repairs=("unclosed SCRATCHPAD",))),
    ("unclosed-deal", "<ANSWER><DEAL>A1,B2,C3,D1,E4\nWhat do you say?</ANSWER>",
     dict(deal=DEAL_13141, deal_source="tag", repairs=("unclosed DEAL",))),
    ("orphan-scratchpad-close", "I secretly want E5.</SCRATCHPAD><ANSWER>Hello.</ANSWER>",
     dict(public="Hello.", scratchpad="I secretly want E5.",
          repairs=("missing SCRATCHPAD opening tag",))),
    ("two-deals-last-wins", TWO_DEALS, dict(deal=DEAL_13141, deal_source="tag", issues=())),
    ("role-continuation", ROLE, dict(public="I propose A1, B2, C3, D1, E4.", deal=DEAL_13141,
                                     repairs=("cut at role continuation 'Mayor:'",))),
    ("role-bold-multiword", BOLD_ROLE,
     dict(public="Fine by me.", repairs=("cut at role continuation 'Local Labour Union:'",))),
    ("name-addressed-not-cut", ADDRESS,
     dict(public="Mayor: I hear you. <DEAL>A1,B2,C3,D1,E4</DEAL>", repairs=(), format_ok=True)),
    ("repeated-structure", REPEAT, dict(deal=DEAL_13141, plan="Push for A1 next round.",
                                        repairs=("cut repeated tag structure",))),
    ("unknown-D5", "<ANSWER><DEAL>A1,B2,C3,D5,E4</DEAL></ANSWER>",
     dict(deal=None, deal_source="tag", issues=("unknown option D5",))),
    ("unknown-G1", "<ANSWER><DEAL>A1,B2,C3,D1,E4,G1</DEAL></ANSWER>",
     dict(deal=None, issues=("unknown option G1",))),
    ("conflict", "<ANSWER><DEAL>A1,B2,C2,C3,D1,E4</DEAL></ANSWER>",
     dict(deal=None, issues=("conflict: C2 and C3 for issue C",))),
    ("repeat-not-conflict", "<ANSWER><DEAL>A1,A1,B2,C3,D1,E4</DEAL></ANSWER>",
     dict(deal=DEAL_13141, issues=())),
    ("incomplete-tag", "<ANSWER><DEAL>A1,B2,C3,D1</DEAL></ANSWER>",
     dict(deal=None, issues=("incomplete deal: missing E",))),
    ("text-few-named-no-issue", "<ANSWER>I care about A1 and B2 most.</ANSWER>",
     dict(deal=None, deal_source="text", issues=(), format_ok=True)),
    ("text-most-named-incomplete", "<ANSWER>How about A1, B2, C3 then?</ANSWER>",
     dict(deal=None, issues=("incomplete deal: missing D, E",))),
    ("text-one-token", "<ANSWER>A1 is vital.</ANSWER>", dict(deal=None, deal_source="none")),
    ("text-lowercase-ignored", "<ANSWER>a1 b2 c3 d1 e4</ANSWER>", dict(deal_source="none")),
    ("empty", "", dict(public="", issues=("empty output",), format_ok=False)),
    ("whitespace-only", " \n\t ", dict(public="", issues=("empty output",))),
    ("garbage-20k", GARBAGE, dict(deal=None, format_ok=False)),
    ("scratchpad-contains-answer", SECRET_ANSWER,
     dict(public="Let us agree on <DEAL>A1,B2,C3,D1,E4</DEAL>.", deal=DEAL_13141, repairs=(),
          scratchpad="I will write <ANSWER> later, secretly want E5")),
    ("markdown-fence", FENCED, dict(public="I offer <DEAL>A1,B2,C3,D1,E4</DEAL>", deal=DEAL_13141,
                                    repairs=("stripped markdown fence",), format_ok=False)),
    ("fence-inside-answer", INNER_FENCE,
     dict(public="Hello all.", repairs=("stripped markdown fence",))),
    ("lowercase-tags", LOWER, dict(public="Take <deal>a1, b2, c3, d1, e4</deal>.", deal=DEAL_13141,
                                   found=("SCRATCHPAD", "ANSWER", "DEAL"), format_ok=True)),
    ("deal-only-in-scratchpad", ONLY_SCRATCH_DEAL, dict(deal=None, deal_source="none",
                                                        public="Hello.", format_ok=True)),
    ("deal-only-in-plan", PLAN_DEAL, dict(deal=None, public="Hello.")),
    ("only-private", "<SCRATCHPAD>A1 B2 C3 D1 E4</SCRATCHPAD>",
     dict(public="", deal=None, issues=("empty public message",))),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in TABLE], ids=[c[0] for c in TABLE])
def test_parse_output_table(text: str, expected: dict[str, Any]) -> None:
    parsed = parse_output(text, ISSUES, OTHERS)
    for name, value in expected.items():
        assert getattr(parsed, name) == value, name


VOTES: list[tuple[str, str, str | None, dict[str, Any]]] = [
    ("accept", "<VOTE>ACCEPT</VOTE> The deal meets my minimum.", "ACCEPT",
     dict(public="The deal meets my minimum.", format_ok=True)),
    ("reject-lower", "<vote>reject</vote> Too costly for the union.", "REJECT", dict(repairs=())),
    ("spaces-in-tag", "< VOTE >Accept</ VOTE >", "ACCEPT", dict(format_ok=True)),
    ("unclosed", "<VOTE>ACCEPT\nIt works for us.", "ACCEPT",
     dict(public="It works for us.", repairs=("unclosed VOTE",))),
    ("bare-word", "ACCEPT. It is acceptable.", "ACCEPT", dict(repairs=("vote without VOTE tag",))),
    ("bare-bold-word", "**REJECT** - not enough.", "REJECT", dict()),
    ("ambiguous", "<VOTE>ACCEPT or REJECT</VOTE>", None, dict(issues=("ambiguous vote",))),
    ("ambiguous-bare", "ACCEPT, no wait, REJECT.", None, dict(issues=("ambiguous vote",))),
    ("missing", "I think this is fine.", None, dict(issues=("missing vote",))),
    ("empty-tag", "<VOTE></VOTE> hmm", None, dict(issues=("missing vote",))),
    ("vote-in-scratchpad", "<SCRATCHPAD><VOTE>REJECT</VOTE></SCRATCHPAD><VOTE>ACCEPT</VOTE>",
     "ACCEPT", dict(scratchpad="<VOTE>REJECT</VOTE>")),
    ("only-private-vote", "<SCRATCHPAD><VOTE>REJECT</VOTE></SCRATCHPAD> ok", None,
     dict(issues=("missing vote",))),
    ("empty", "", None, dict(issues=("empty output", "missing vote"))),
]


@pytest.mark.parametrize(("text", "vote", "expected"), [c[1:] for c in VOTES],
                         ids=[c[0] for c in VOTES])
def test_parse_vote_table(text: str, vote: str | None, expected: dict[str, Any]) -> None:
    parsed = parse_vote(text)
    assert parsed.vote == vote
    assert parsed.deal is None and parsed.deal_source == "none"
    for name, value in expected.items():
        assert getattr(parsed, name) == value, name
    assert parse_output(text, ISSUES, OTHERS, expect="vote") == parsed


def test_vote_mode_role_cut() -> None:
    parsed = parse_vote("<VOTE>ACCEPT</VOTE> Good deal.\nMayor: <VOTE>REJECT</VOTE>", OTHERS)
    assert parsed.vote == "ACCEPT" and parsed.public == "Good deal."
    assert parsed.repairs == ("cut at role continuation 'Mayor:'",)


def test_bad_expect() -> None:
    with pytest.raises(ValueError):
        parse_output("x", ISSUES, OTHERS, expect="other")


@pytest.mark.parametrize("size", [20_000, 200_000], ids=["20k", "200k"])
@pytest.mark.parametrize(
    "unit",
    ["<" + " " * 50, "<ANSWER>", "<SCRATCHPAD>", "</PLAN>x", "Mayor:\n", "A1 ", "<DEAL>a1",
     "<VOTE>", "```", "< / ANSWER", "**Department of Tourism** x\n", "A" + "1" * 60,
     "<PLAN>" + "<ANSWER>" * 5, "<SCRATCHPAD>\nMayor: x\n", "<ANSWER>x\nMayor: y\n"],
    ids=["spaces", "answers", "scratchpads", "closes", "roles", "tokens", "deals", "votes",
         "fences", "broken-close", "bold", "digits", "plan-answers", "private-roles",
         "answer-roles"],
)
def test_large_garbage_is_bounded(size: int, unit: str) -> None:
    text = (unit * (size // len(unit) + 1))[:size]
    for expect in ("turn", "vote"):
        assert isinstance(parse_output(text, ISSUES, OTHERS, expect=expect), ParsedOutput)


def test_extract_deal_and_mentions() -> None:
    assert extract_deal("<DEAL>A1,B2,C3,D1,E4</DEAL>", ISSUES) == (DEAL_13141, "tag", ())
    assert extract_deal("A1 B2 C3 D1 E4", ISSUES) == (DEAL_13141, "text", ())
    assert extract_deal("nothing", ISSUES) == (None, "none", ())
    assert extract_deal("<DEAL>A1</DEAL>", ()) == (None, "none", ())
    assert extract_deal("A1 A2 B1 C1 D1 E1", ISSUES)[2] == ("conflict: A1 and A2 for issue A",)
    assert extract_deal("A1 B2 C3 D5 E4", ISSUES)[2] == ("unknown option D5",)
    assert mentioned_options("A1, then a2, B9, Q1, A1 and C4.", ISSUES) == ("A1", "C4")


SAFE = st.text(alphabet=string.ascii_lowercase + " \n.,:*", max_size=30)
FRAGMENT = st.sampled_from(
    ["<ANSWER>", "</ANSWER>", "<PLAN>", "</PLAN>", "<SCRATCHPAD>", "< /scratchpad >",
     "<DEAL>", "</DEAL>", "<VOTE>", "ACCEPT", "\nMayor: ", "\n**Mayor**:", "A1,B2,C3,D1,E4",
     "D5", "```xml\n", "```", "<answer>", "\n", " ", "hello"]
)
NOISE = st.lists(st.one_of(FRAGMENT, SAFE), max_size=12).map("".join)
KIND = st.sampled_from(["SCRATCHPAD", "PLAN"])
EXPECT = st.sampled_from(["turn", "vote"])
SECRET = st.text(alphabet=string.ascii_letters + string.digits + " \n:*`/>", max_size=40)


def _check_deal(parsed: ParsedOutput) -> None:
    if parsed.deal is not None:
        assert len(parsed.deal.options) == len(ISSUES)
        assert all(1 <= k <= i.n_options for k, i in zip(parsed.deal.options, ISSUES))
        assert parsed.deal_source in ("tag", "text") and not parsed.issues


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400), EXPECT)
def test_arbitrary_text_never_raises(text: str, expect: str) -> None:
    parsed = parse_output(text, ISSUES, OTHERS, expect=expect)
    _check_deal(parsed)
    assert parsed.vote in (None, "ACCEPT", "REJECT")


@settings(max_examples=300, deadline=None)
@given(NOISE, SECRET, NOISE, KIND, EXPECT)
def test_closed_private_section_never_public(
    before: str, secret: str, after: str, kind: str, expect: str
) -> None:
    marker = "QZXJ" + secret + "QZXJ"
    text = f"{before}<{kind}>{marker}</{kind}>{after}"
    parsed = parse_output(text, ISSUES, OTHERS, expect=expect)
    assert "QZXJ" not in parsed.public
    _check_deal(parsed)
