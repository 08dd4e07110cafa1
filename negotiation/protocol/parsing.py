"""Robust, honest parsing of what an LLM party wrote in one turn or vote.

Small models break the ``<SCRATCHPAD>/<ANSWER>/<PLAN>`` format in every way: missing or lower-case
tags, markdown fences, the structure written twice, the next party's turn written out. This module
recovers the public message, private notes, deal and vote, and records every repair and problem so
clean turns can be told from rescued ones. Decisions:

* Private sections (SCRATCHPAD, PLAN) run to their closing tag when it comes before their next
  opening tag (so a literal ``<ANSWER>`` inside stays private), else to the next opening section
  tag. An orphan closing tag makes the text since the previous section that section. Private text
  never becomes public; cut-off text is dropped entirely.
* ANSWER ends at its closing tag or the next opening section tag. The public message is the first
  ANSWER with text, or without any ANSWER the output minus private sections.
* ``<DEAL>`` tags stay verbatim in the public message; ``<VOTE>`` blocks are removed from it.
* ``deal_source`` says where a deal attempt was read ("tag": last DEAL block; "text": two or more
  upper-case option tokens of existing issues); ``deal`` is None whenever that attempt had issues.
* ``parse_vote(text)`` is ``parse_output(text, (), other_parties, expect="vote")``: no deal is
  read, and ``format_ok`` needs a VOTE tag instead of an ANSWER tag.
* Regexes are linear (possessive quantifiers, bounded digits): any input parses quickly.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from negotiation.core.game import Deal, Issue
from negotiation.core.phases import Phase

TURN, VOTE = "turn", Phase.VOTE.value
"""What ``parse_output`` expects: a turn (ANSWER with a deal) or a vote (a VOTE tag)."""
SECTIONS: frozenset[str] = frozenset({"SCRATCHPAD", "ANSWER", "PLAN"})
PRIVATE: frozenset[str] = frozenset({"SCRATCHPAD", "PLAN"})
_TAG = re.compile(r"<\s*+(/?)\s*+(SCRATCHPAD|ANSWER|PLAN|DEAL|VOTE)\s*+>", re.I)
_FENCE_LINE = re.compile(r"^[ \t]*+```[\w+-]*+[ \t]*+$", re.M)
_FENCE = re.compile(r"```")
_TAG_OPTION = re.compile(r"(?<![A-Za-z])([A-Za-z])[ \t]?([0-9]{1,3})(?![0-9])")
_TEXT_OPTION = re.compile(r"\b([A-Z])([0-9]{1,3})\b")
_VOTE_WORD = re.compile(r"\b(ACCEPT|REJECT)(?:S|ED)?\b", re.I)
_LEADING_VOTE = re.compile(r"\A[\s*_#>\"'`(\[-]*+(ACCEPT|REJECT)\b", re.I)
_UPPER_VOTE = re.compile(r"\b(ACCEPT|REJECT)\b")
_Tag = tuple[int, int, bool, str]  # start, end, is_closing, KIND


@dataclass(frozen=True)
class ParsedOutput:
    """One parsed model output; see the module docstring for how each field is decided."""

    public: str
    scratchpad: str
    plan: str
    deal: Deal | None
    deal_source: str
    vote: str | None
    found: tuple[str, ...]
    repairs: tuple[str, ...]
    issues: tuple[str, ...]

    @property
    def format_ok(self) -> bool:
        """True when the required tag (ANSWER, or VOTE for votes) was found, nothing was
        repaired (whitespace aside) and there are no parse issues."""
        has_tag = "ANSWER" in self.found or "VOTE" in self.found
        return has_tag and not self.repairs and not self.issues


@dataclass(frozen=True)
class _Section:
    kind: str
    start: int  # span start (opening tag)
    body: int  # content start
    stop: int  # content end
    end: int  # span end
    closed: bool
    implied: bool = False


@lru_cache(maxsize=32)
def _all_tags(text: str) -> tuple[_Tag, ...]:
    """Every tag of ``text`` (one scan per text: a parse asks for its tags several times)."""
    return tuple((m.start(), m.end(), bool(m.group(1)), m.group(2).upper())
                 for m in _TAG.finditer(text))


def _tags(text: str, kinds: frozenset[str]) -> list[_Tag]:
    return [t for t in _all_tags(text) if t[3] in kinds]


def _sections(text: str) -> list[_Section]:
    """Split ``text`` into SCRATCHPAD/ANSWER/PLAN sections (see the module docstring)."""
    toks = _tags(text, SECTIONS)
    n, out = len(toks), list[_Section]()
    i, prev = 0, 0
    while i < n:
        start, end, closing, kind = toks[i]
        if closing:
            if text[prev:start].strip():
                out.append(_Section(kind, prev, prev, start, end, True, implied=True))
            prev, i = end, i + 1
            continue
        # Linear overall: each scan stops at the next tag of its own kind at the latest.
        j = next((k for k in range(i + 1, n) if toks[k][3] == kind), n) if kind in PRIVATE else n
        if j == n or not toks[j][2]:
            j = next((k for k in range(i + 1, n) if not toks[k][2] or toks[k][3] == kind), n)
        if j < n and toks[j][2] and toks[j][3] == kind:
            out.append(_Section(kind, start, end, toks[j][0], toks[j][1], True))
            prev, i = toks[j][1], j + 1
        else:
            stop = toks[j][0] if j < n else len(text)
            out.append(_Section(kind, start, end, stop, stop, False))
            prev, i = stop, j
    return out


def _outside_private(text: str, secs: Sequence[_Section], upto: int) -> str:
    """``text[:upto]`` without its private sections."""
    parts: list[str] = []
    pos = 0
    for s in secs:
        if s.kind in PRIVATE and s.start < upto:
            parts.append(text[pos : s.start])
            pos = max(pos, s.end)
    parts.append(text[pos:upto])
    return "".join(parts)


def _repeat_cut(text: str, secs: Sequence[_Section]) -> int | None:
    """Where the tag structure starts over after an ANSWER with text, if it does."""
    seen: set[str] = set()
    answered = False
    for s in secs:
        if answered and s.kind in seen:
            return s.start
        seen.add(s.kind)
        answered = answered or (s.kind == "ANSWER" and bool(text[s.body : s.stop].strip()))
    return None


@lru_cache(maxsize=64)
def _role_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    alts = [r"[ \t]+".join(map(re.escape, n.split())) for n in sorted(names, key=len, reverse=True)]
    alts = [a for a in alts if a]
    if not alts:
        return None
    body = r"^[ \t]*+[*_]{0,2}[ \t]*+(?:" + "|".join(alts) + r")[ \t]*+[*_]{0,2}[ \t]*+:"
    return re.compile(body, re.I | re.M)


def _role_cut(
    text: str, secs: Sequence[_Section], names: Sequence[str], limit: int
) -> tuple[int, str] | None:
    """First line outside private sections where another party's turn starts after some text
    of ours (a name at the very start of a message addresses that party, it is kept)."""
    pattern = _role_pattern(tuple(names))
    if pattern is None:
        return None
    starts = [s.start for s in secs]
    for m in pattern.finditer(text, 0, limit):
        k = bisect_right(starts, m.start()) - 1
        sec = secs[k] if k >= 0 and m.start() < secs[k].end else None
        if sec is not None and sec.kind in PRIVATE:
            continue
        before = text[sec.body : m.start()] if sec else _outside_private(text, secs, m.start())
        if _TAG.sub("", before).strip():
            label = " ".join(m.group(0).replace("*", "").replace("_", " ").split())
            return m.start(), label
    return None


def _blocks(text: str, kind: str) -> list[tuple[int, int, str, bool]]:
    """Inline DEAL/VOTE blocks: (span start, span end, content, closed). An unclosed block ends
    at the end of its first non-blank line or at the next ``<``."""
    toks = _tags(text, frozenset({kind}))
    out: list[tuple[int, int, str, bool]] = []
    for n, (start, end, closing, _) in enumerate(toks):
        if closing:
            continue
        nxt = toks[n + 1] if n + 1 < len(toks) else None
        if nxt is not None and nxt[2]:
            out.append((start, nxt[1], text[end : nxt[0]], True))
            continue
        limit = nxt[0] if nxt is not None else len(text)
        rest = text[end:limit]
        body = end + len(rest) - len(rest.lstrip())
        stops = [p for p in (text.find("\n", body, limit), text.find("<", body, limit)) if p >= 0]
        stop = min(stops, default=limit)
        out.append((start, stop, text[end:stop], False))
    return out


def _build_deal(
    tokens: Sequence[tuple[str, int]], issues: Sequence[Issue], report_missing: bool
) -> tuple[Deal | None, tuple[str, ...]]:
    """One valid option per issue, or None with the reasons."""
    sizes = {i.letter: i.n_options for i in issues}
    chosen: dict[str, list[int]] = {letter: [] for letter, _ in tokens}
    problems: list[str] = []
    for letter, k in tokens:
        if letter not in sizes or not 1 <= k <= sizes[letter]:
            problems.append(f"unknown option {letter}{k}")
        elif k not in chosen[letter]:
            chosen[letter].append(k)
    for letter, ks in chosen.items():
        if len(ks) > 1:
            problems.append(f"conflict: {' and '.join(f'{letter}{k}' for k in sorted(ks))} "
                            f"for issue {letter}")
    missing = [i.letter for i in issues if i.letter not in chosen]
    if missing and report_missing:
        problems.append("incomplete deal: missing " + ", ".join(missing))
    if problems or missing:
        return None, tuple(dict.fromkeys(problems))
    return Deal(tuple(chosen[i.letter][0] for i in issues)), ()


def _option_tokens(text: str, pattern: re.Pattern[str]) -> list[tuple[str, int]]:
    return [(m.group(1).upper(), int(m.group(2))) for m in pattern.finditer(text)]


def mentioned_options(text: str, issues: Sequence[Issue]) -> tuple[str, ...]:
    """Valid upper-case option names (``A1``) named in free text, distinct, in order of mention."""
    sizes = {i.letter: i.n_options for i in issues}
    tokens = _option_tokens(text, _TEXT_OPTION)
    names = (f"{ltr}{k}" for ltr, k in tokens if 1 <= k <= sizes.get(ltr, 0))
    return tuple(dict.fromkeys(names))


def extract_deal(
    public: str, issues: Sequence[Issue]
) -> tuple[Deal | None, str, tuple[str, ...]]:
    """(deal, source, issues) read from a public message: the last DEAL block, else free text."""
    if not issues:
        return None, "none", ()
    blocks = _blocks(public, "DEAL")
    if blocks:
        deal, problems = _build_deal(_option_tokens(blocks[-1][2], _TAG_OPTION), issues, True)
        return deal, "tag", problems
    letters = {i.letter for i in issues}
    tokens = [t for t in _option_tokens(public, _TEXT_OPTION) if t[0] in letters]
    if len(set(tokens)) < 2:
        return None, "none", ()
    named = len({letter for letter, _ in tokens})
    deal, problems = _build_deal(tokens, issues, 2 * named > len(issues))
    return deal, "text", problems


def _read_vote(outside: str, public: str) -> tuple[str | None, tuple[str, ...], tuple[str, ...]]:
    """(vote, repairs, issues) from VOTE blocks outside private text, else a leading word."""
    blocks = _blocks(outside, "VOTE")
    if blocks:
        words = {m.group(1).upper() for b in blocks for m in _VOTE_WORD.finditer(b[2])}
        if len(words) == 1:
            repairs = ("unclosed VOTE",) if not all(b[3] for b in blocks) else ()
            return words.pop(), repairs, ()
        return None, (), ("ambiguous vote" if words else "missing vote",)
    m = _LEADING_VOTE.match(public)
    if m is None:
        return None, (), ("missing vote",)
    word = m.group(1).upper()
    if {w.upper() for w in _UPPER_VOTE.findall(public[m.end() :])} - {word}:
        return None, (), ("ambiguous vote",)
    return word, ("vote without VOTE tag",), ()


def _strip_fences(text: str) -> tuple[str, tuple[str, ...]]:
    stripped = _FENCE.sub("", _FENCE_LINE.sub("", text))
    return stripped, (("stripped markdown fence",) if stripped != text else ())


def _structure(
    text: str, other_parties: Sequence[str]
) -> tuple[list[_Section], int, list[str]]:
    """Sections, the cut position and the structural repairs."""
    secs = _sections(text)
    cut, repairs = len(text), list[str]()
    repeat = _repeat_cut(text, secs)
    if repeat is not None:
        cut = repeat
    role = _role_cut(text, secs, other_parties, cut)
    if role is not None:
        cut = role[0]
        repairs.append(f"cut at role continuation '{role[1]}'")
    elif repeat is not None:
        repairs.append("cut repeated tag structure")
    secs = [replace(s, stop=min(s.stop, cut), end=min(s.end, cut)) for s in secs if s.start < cut]
    for s in secs:
        if s.implied:
            repairs.append(f"missing {s.kind} opening tag")
        elif not s.closed:
            repairs.append(f"unclosed {s.kind}")
    return secs, cut, repairs


def _clean_public(raw: str) -> str:
    """Drop VOTE blocks and every tag but DEAL from a public message."""
    parts: list[str] = []
    pos = 0
    for start, end, _, _ in _blocks(raw, "VOTE"):
        parts.append(raw[pos:start])
        pos = end
    raw = "".join(parts) + raw[pos:]
    return _TAG.sub(lambda m: m.group(0) if m.group(2).upper() == "DEAL" else "", raw).strip()


def _private_text(text: str, secs: Sequence[_Section], kind: str) -> str:
    parts = (text[s.body : s.stop].strip() for s in secs if s.kind == kind)
    return "\n\n".join(p for p in parts if p)


def parse_output(
    text: str, issues: Sequence[Issue], other_parties: Sequence[str], expect: str = TURN
) -> ParsedOutput:
    """Parse one model output; ``expect`` is "turn" or "vote" (see the module docstring)."""
    if expect not in (TURN, VOTE):
        raise ValueError(f"expect must be {TURN!r} or {VOTE!r}, got {expect!r}")
    if not text.strip():
        problems = ("empty output",) + (("missing vote",) if expect == VOTE else ())
        return ParsedOutput("", "", "", None, "none", None, (), (), problems)
    text, repairs = _strip_fences(text)
    secs, cut, more = _structure(text, other_parties)
    outside = _outside_private(text, secs, cut)
    answers = [s for s in secs if s.kind == "ANSWER"]
    if answers:
        ans = next((a for a in answers if text[a.body : a.stop].strip()), answers[0])
        public = _clean_public(text[ans.body : ans.stop])
    else:
        public = _clean_public(outside)
        if expect == TURN:
            more.append("no ANSWER tag: public = output minus private sections")
    found = [s.kind for s in secs] + ["DEAL"] * bool(_blocks(public, "DEAL"))
    found += ["VOTE"] * bool(_blocks(outside, "VOTE"))
    vote, problems = None, ()
    deal, source = None, "none"
    if expect == VOTE:
        vote, vote_repairs, problems = _read_vote(outside, public)
        more.extend(vote_repairs)
    else:
        deal, source, problems = extract_deal(public, issues)
        if not public:
            problems += ("empty public message",)
        if any(not b[3] for b in _blocks(public, "DEAL")):
            more.append("unclosed DEAL")
    return ParsedOutput(
        public, _private_text(text, secs, "SCRATCHPAD"), _private_text(text, secs, "PLAN"),
        deal, source, vote, tuple(dict.fromkeys(found)),
        tuple(dict.fromkeys(repairs + tuple(more))), tuple(problems),
    )


def parse_vote(text: str, other_parties: Sequence[str] = ()) -> ParsedOutput:
    """Parse a vote-phase output: ``parse_output(text, (), other_parties, expect="vote")``."""
    return parse_output(text, (), other_parties, expect=VOTE)
