"""The turn schema: what a seat may answer in one phase, as one definition every backend compiles.

Derived from the game and the phase (and, under ``--deal-space own``, the deals that clear the
seat's own minimum): a party turn is a bounded scratchpad, a bounded public message, a deal
(exactly one existing option per issue; required in the opening and the final proposal,
optional in discussion turns) inside the ANSWER as the prompts say, and a bounded plan (absent
on a party's last discussion turn and in the final proposal); a vote is ACCEPT or REJECT with an
optional short reason; the moderator's answer is one of the speakers it may choose. The
summarizer's free text has no schema.

``gbnf()`` is the tagged format as a GBNF grammar (llama.cpp, xgrammar): the model still writes
``<SCRATCHPAD>…</SCRATCHPAD><ANSWER>… <DEAL>A1,…</DEAL></ANSWER><PLAN>…</PLAN>``, so the parser
and the log stay as they are. ``json_schema()`` is the same content as a strict JSON Schema
(every field required, nullable instead of optional, no length keywords: the strictest subset
hosted providers enforce); ``read_json`` maps such an answer to an ``Action``. Bounds are in
characters and configurable (``Bounds``); ``max_tokens`` is set above them so a constrained
answer is never cut.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.core.game import Deal, Issue
from negotiation.core.phases import Phase
from negotiation.protocol.seats import VOTES, Action, Observation, with_deal_tag

MODES: tuple[str, ...] = ("off", "grammar", "json", "auto")
VOTE_KEY = "vote"
"""The JSON field of a vote answer."""
TOKENS_PER_CHAR = 4
"""A character may take up to four tokens (a UTF-8 byte each); ``max_tokens`` allows for it."""


@dataclass(frozen=True)
class Bounds:
    """Length bounds of the free-text fields, in characters."""

    scratchpad: int = 200
    public: int = 200
    plan: int = 100
    reason: int = 160
    tail: int = 40
    """Text allowed after the deal, inside the ANSWER."""

    def __post_init__(self) -> None:
        for name in ("scratchpad", "public", "plan", "reason", "tail"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 1 <= value <= 4000:
                raise ConfigError(f"structured bound {name} must be 1-4000 characters, "
                                  f"got {value!r}")

    @classmethod
    def parse(cls, text: str) -> Bounds:
        """``scratchpad=200,public=300`` (unnamed fields keep their defaults)."""
        values: dict[str, int] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            name, sep, number = item.partition("=")
            if not sep or name not in cls.__dataclass_fields__ or not number.isdigit():
                raise ConfigError(f"--structured-bounds expects NAME=CHARS,… with NAME one of "
                                  f"{', '.join(cls.__dataclass_fields__)}; got {item[:40]!r}")
            values[name] = int(number)
        return cls(**values)


@dataclass(frozen=True)
class TurnSchema:
    """What one answer may contain."""

    kind: Phase
    """The phase answered (never SUMMARY: the summarizer writes free text)."""
    issues: tuple[Issue, ...]
    plan: bool = True
    """Whether the answer ends with a PLAN (discussion turns but a speaker's last, opening)."""
    deals: tuple[Deal, ...] | None = None
    """The deals allowed (None: every deal of the game)."""
    choices: tuple[str, ...] = ()
    """MODERATOR: the speakers it may choose."""
    bounds: Bounds = field(default_factory=Bounds)

    @classmethod
    def for_observation(cls, obs: Observation, bounds: Bounds = Bounds(),
                        deals: Sequence[Deal] | None = None) -> TurnSchema | None:
        """The schema of ``obs``'s turn; None when the turn has none (the summarizer)."""
        kind = obs.phase
        if kind is Phase.SUMMARY:
            return None
        plan = kind is Phase.OPENING or (kind is Phase.ROUND and not obs.final_turn)
        return cls(kind, tuple(obs.issues), plan, tuple(deals) if deals is not None else None,
                   tuple(obs.candidates), bounds)

    @property
    def deal_required(self) -> bool:
        """The opening and the final proposal must name a full deal."""
        return self.kind in (Phase.OPENING, Phase.FINAL)

    @property
    def key(self) -> str:
        """A stable id of this schema (compiled grammars are cached under it)."""
        text = json.dumps([self.kind.value, [(i.letter, i.n_options) for i in self.issues], self.plan,
                           None if self.deals is None else [str(d) for d in self.deals],
                           list(self.choices), vars(self.bounds)], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def max_chars(self) -> int:
        """The longest answer the grammar admits, in characters."""
        b = self.bounds
        if self.kind is Phase.VOTE:
            return len("<VOTE>REJECT</VOTE> ") + b.reason
        if self.kind is Phase.MODERATOR:
            return max((len(c) for c in self.choices), default=1)
        deal = sum(len(f"{i.letter}{i.n_options}") + 1 for i in self.issues)
        tags = len("<SCRATCHPAD></SCRATCHPAD>\n<ANSWER> <DEAL></DEAL></ANSWER>\n<PLAN></PLAN>")
        return b.scratchpad + b.public + deal + b.tail + (b.plan if self.plan else 0) + tags

    def max_tokens(self) -> int:
        """A ``max_tokens`` no answer of this schema can reach."""
        return TOKENS_PER_CHAR * self.max_chars() + 16

    # --- GBNF ---------------------------------------------------------------------------------

    def gbnf(self) -> str:
        """The tagged format as a GBNF grammar whose start rule is ``root``."""
        b = self.bounds
        if self.kind is Phase.VOTE:
            return (f'root ::= "<VOTE>" ("ACCEPT" | "REJECT") "</VOTE>" (" " reason)?\n'
                    f"reason ::= {_text(b.reason, newline=False)}\n")
        if self.kind is Phase.MODERATOR:
            return "root ::= " + " | ".join(_literal(c) for c in self.choices) + "\n"
        deal = '" <DEAL>" deal "</DEAL>" tail'
        answer = deal if self.deal_required else f"({deal})?"
        plan = ' "\\n<PLAN>" plan "</PLAN>"' if self.plan else ""
        rules = [f'root ::= "<SCRATCHPAD>" scratch "</SCRATCHPAD>\\n<ANSWER>" message {answer} '
                 f'"</ANSWER>"{plan}',
                 f"scratch ::= {_text(b.scratchpad, newline=True)}",
                 f"message ::= {_text(b.public, newline=False)}",
                 f"tail ::= [^<\\n]{{0,{b.tail}}}"]
        if self.plan:
            rules.append(f"plan ::= {_text(b.plan, newline=True)}")
        rules += self._deal_rules()
        return "\n".join(rules) + "\n"

    def _deal_rules(self) -> list[str]:
        if self.deals is None:
            parts = ' "," '.join(f"i{i.letter}" for i in self.issues)
            rules = [f"deal ::= {parts}"]
            rules += [f"i{i.letter} ::= " + " | ".join(
                _literal(i.option_name(k)) for k in range(1, i.n_options + 1))
                for i in self.issues]
            return rules
        if not self.deals:
            raise ConfigError("no deal clears this seat's minimum: the restricted deal space "
                              "is empty")
        return _trie([d.names() for d in self.deals])

    # --- JSON ---------------------------------------------------------------------------------

    def json_schema(self) -> dict[str, Any]:
        """The same content as a strict JSON Schema (all fields required, nullable deal)."""
        if self.kind is Phase.VOTE:
            props: dict[str, Any] = {VOTE_KEY: {"type": "string", "enum": list(VOTES)},
                                     "reason": {"type": "string"}}
        elif self.kind is Phase.MODERATOR:
            props = {"speaker": {"type": "string", "enum": list(self.choices)}}
        else:
            deal = self._deal_schema()
            props = {"scratchpad": {"type": "string"}, "public": {"type": "string"},
                     "deal": deal if self.deal_required else {"anyOf": [deal, {"type": "null"}]}}
            if self.plan:
                props["plan"] = {"type": "string"}
        return {"type": "object", "properties": props, "required": list(props),
                "additionalProperties": False}

    def _deal_schema(self) -> dict[str, Any]:
        if self.deals is not None:
            return {"type": "string", "enum": [str(d) for d in self.deals]}
        return {"type": "object", "additionalProperties": False,
                "required": [i.letter for i in self.issues],
                "properties": {i.letter: {"type": "string", "enum": [
                    i.option_name(k) for k in range(1, i.n_options + 1)]} for i in self.issues}}

    def read_json(self, text: str) -> tuple[Action, list[str]] | None:
        """The action a JSON answer gives, with the problems found (a field over its bound, an
        unknown option); None when the text is not JSON of this schema's shape."""
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or set(data) != set(self.json_schema()["properties"]):
            return None
        return _action_of(self, data)


    def read_tagged(self, text: str) -> tuple[Action, list[str]] | None:
        """The action a grammar-constrained answer gives, read by the grammar's own structure
        (the deal is the DEAL tag, nothing in the prose); None when ``text`` does not have
        that structure (the free-text parser reads it then)."""
        if self.kind is Phase.MODERATOR:
            chosen = text.strip()
            return (Action(public=chosen), []) if chosen in self.choices else None
        match = (_TAGGED_VOTE if self.kind is Phase.VOTE else _TAGGED_TURN).fullmatch(text.strip())
        if match is None:
            return None
        data = {k: v for k, v in match.groupdict().items() if v is not None}
        if self.kind is Phase.VOTE:
            return _action_of(self, {VOTE_KEY: data[VOTE_KEY], "reason": data.get("reason", "")})
        action, problems = _action_of(self, {**data, "deal": data.get("deal")}) or (None, [])
        if action is None:
            return None
        tail = data.get("tail", "").strip()
        public = f"{action.public} {tail}".strip() if tail else action.public
        return dataclasses.replace(action, public=public), problems


_TAGGED_TURN = re.compile(
    r"<SCRATCHPAD>(?P<scratchpad>[^<]*)</SCRATCHPAD>\n<ANSWER>(?P<public>[^<\n]*?)"
    r"(?: <DEAL>(?P<deal>[A-Za-z0-9_,]*)</DEAL>(?P<tail>[^<\n]*))?</ANSWER>"
    r"(?:\n<PLAN>(?P<plan>[^<]*)</PLAN>)?")
_TAGGED_VOTE = re.compile(r"<VOTE>(?P<vote>ACCEPT|REJECT)</VOTE>(?: (?P<reason>[^<\n]*))?")


def _action_of(schema: TurnSchema, data: dict[str, Any]) -> tuple[Action, list[str]] | None:
    problems: list[str] = []

    def text(name: str, bound: int) -> str:
        value = data.get(name)
        value = value if isinstance(value, str) else ""
        if len(value) > bound:
            problems.append(f"{name} is longer than {bound} characters")
        return value.strip()

    b = schema.bounds
    if schema.kind is Phase.VOTE:
        given = data.get(VOTE_KEY)
        vote = given if given in VOTES else None
        return Action(public=text("reason", b.reason), vote=vote), problems  # type: ignore[arg-type]
    if schema.kind is Phase.MODERATOR:
        chosen = data.get("speaker")
        return Action(public=chosen if chosen in schema.choices else ""), problems
    deal = _deal_of(schema, data.get("deal"), problems)
    public = with_deal_tag(text("public", b.public), deal)
    return Action(public=public, deal=deal, scratchpad=text("scratchpad", b.scratchpad),
                  plan=text("plan", b.plan) if schema.plan else ""), problems


def _deal_of(schema: TurnSchema, value: Any, problems: list[str]) -> Deal | None:
    if value is None:
        if schema.deal_required:
            problems.append("missing deal")
        return None
    names = value.split(",") if isinstance(value, str) else \
        [value.get(i.letter) for i in schema.issues] if isinstance(value, dict) else []
    try:
        deal = Deal.from_names([str(n) for n in names])
    except ValueError:
        problems.append(f"not a deal: {str(value)[:60]}")
        return None
    allowed = schema.deals is None or deal in schema.deals
    if len(deal.options) != len(schema.issues) or not allowed or any(
            not 1 <= k <= i.n_options for k, i in zip(deal.options, schema.issues)):
        problems.append(f"deal {deal} is not allowed")
        return None
    return deal


def _literal(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid GBNF string literal


def _text(bound: int, newline: bool) -> str:
    """1..bound characters without ``<`` (no tag inside), the first not a space."""
    rest = "[^<]" if newline else "[^<\\n]"
    first = "[^<\\n\\r\\t ]"
    return f"{first} {rest}{{0,{bound - 1}}}"


def _trie(deals: Sequence[tuple[str, ...]]) -> list[str]:
    """GBNF rules ``deal ::= …`` accepting exactly ``deals`` (a prefix tree, one rule a node)."""
    rules: list[str] = []

    def node(prefix: tuple[str, ...], depth: int) -> str:
        name = "deal" if not prefix else "d" + "".join(prefix).lower()
        options = sorted({d[depth] for d in deals if d[:depth] == prefix})
        alternatives = []
        for option in options:
            if depth + 1 == len(deals[0]):
                alternatives.append(_literal(option))
            else:
                alternatives.append(f'{_literal(option + ",")} {node((*prefix, option), depth + 1)}')
        rules.append(f"{name} ::= " + " | ".join(alternatives))
        return name

    node((), 0)
    return rules
