"""Experiment files, first half: YAML with line numbers, the pydantic schema, readable errors.

``read_document`` turns a YAML file into plain data plus a map from key paths (``("generation",
"temperature", 1)``) to 1-based lines; ``validate_schema`` checks keys and types with pydantic
(unknown keys are refused at every level) and reports the first problem as an ``ExperimentError``
at the line of the offending key. The meaning of the values is checked in ``experiment.py``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from negotiation.agents.specs import parse_spec
from negotiation.backends.base import GenerateConfig
from negotiation.backends.registry import PROVIDERS
from negotiation.core.errors import ConfigError
from negotiation.runs.bounds import BOUNDS

KeyPath = tuple[str | int, ...]
MAX_NODES = 100_000
"""Aliases can blow a small file up exponentially; refuse documents with more nodes."""


class ExperimentError(ConfigError):
    """An experiment file is malformed; the message reads ``FILE:LINE: key.path: what``."""

    def __init__(self, path: Path | str, message: str, line: int | None = None,
                 key: str = "") -> None:
        self.path, self.line, self.key, self.reason = Path(path), line, key, message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


def format_key(path: KeyPath) -> str:
    """``("incentives", 1, "Mayor")`` -> ``incentives[1].Mayor``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Document:
    """A parsed experiment file: its data and the line of every key and list item."""

    path: Path
    data: Any
    lines: Mapping[KeyPath, int]

    def line_of(self, key: KeyPath) -> int:
        """The line of ``key``, or of its nearest ancestor that has one."""
        while key and key not in self.lines:
            key = key[:-1]
        return self.lines.get(key, 1)

    def error(self, key: KeyPath, message: str) -> ExperimentError:
        """An error at ``key``'s line (``key`` as in the schema: a scalar given for a list
        drops its index)."""
        key = _data_path(self.data, key)
        return ExperimentError(self.path, message, self.line_of(key), format_key(key))


class _Converter:
    """Builds plain data from a composed node tree, recording the line of each entry."""

    def __init__(self, loader: yaml.SafeLoader, path: Path) -> None:
        self.loader, self.path = loader, path
        self.lines: dict[KeyPath, int] = {}
        self.count = 0

    def fail(self, node: yaml.Node, message: str) -> ExperimentError:
        return ExperimentError(self.path, message, node.start_mark.line + 1)

    def convert(self, node: yaml.Node, key: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"document too large (more than {MAX_NODES} values)")
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.loader.construct_object(node, deep=True)
            except (ValueError, TypeError, OverflowError) as err:
                raise self.fail(node, f"invalid value {node.value!r}: {err}") from None
        if isinstance(node, yaml.SequenceNode):
            return [self.item(child, (*key, i)) for i, child in enumerate(node.value)]
        return self.mapping(node, key)

    def item(self, node: yaml.Node, key: KeyPath) -> Any:
        self.lines[key] = node.start_mark.line + 1
        return self.convert(node, key)

    def mapping(self, node: yaml.Node, key: KeyPath) -> dict[str, Any]:
        assert isinstance(node, yaml.MappingNode)
        self.loader.flatten_mapping(node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise ExperimentError(self.path, "keys must be plain text, not lists or "
                                      "mappings", key_node.start_mark.line + 1, format_key(key))
            name = str(key_node.value)
            if name in out:
                raise ExperimentError(self.path, "duplicate key", key_node.start_mark.line + 1,
                                      format_key((*key, name)))
            self.lines[(*key, name)] = key_node.start_mark.line + 1
            out[name] = self.convert(value_node, (*key, name))
        return out


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError as err:
        raise ExperimentError(path, f"not valid UTF-8 ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ExperimentError(path, f"cannot read: {err.strerror or err}") from None


def _compose(path: Path, text: str) -> tuple[Any, dict[KeyPath, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ExperimentError(path, "the file is empty: expected a mapping of settings", 1)
        converter = _Converter(loader, path)
        converter.lines[()] = node.start_mark.line + 1
        return converter.convert(node, ()), converter.lines
    finally:
        loader.dispose()


def _yaml_error(path: Path, text: str, err: yaml.YAMLError) -> ExperimentError:
    """YAML's own message, at its line."""
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        problem = " ".join(str(p) for p in (err.context, err.problem) if p)
        return ExperimentError(path, f"malformed YAML: {problem}",
                               mark.line + 1 if mark is not None else None)
    if isinstance(err, yaml.reader.ReaderError):
        return ExperimentError(path, f"malformed YAML: {err.reason} (character "
                               f"#x{err.character:04x})", text.count("\n", 0, err.position) + 1)
    return ExperimentError(path, f"malformed YAML: {err}")


def read_document(path: Path) -> Document:
    """Parse ``path`` (one YAML document) into data with line numbers."""
    text = _read_text(path)
    try:
        data, lines = _compose(path, text)
    except yaml.YAMLError as err:
        raise _yaml_error(path, text, err) from None
    except RecursionError:
        raise ExperimentError(path, "malformed YAML: nested too deeply (or a recursive alias)") \
            from None
    if not isinstance(data, dict):
        raise ExperimentError(path, "expected a mapping of settings at the top level, got "
                              f"{'text' if isinstance(data, str) else _kind(data)}", lines[()])
    return Document(path, data, lines)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list"}.get(type(value), repr(value)[:60])


def _listify(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


T = TypeVar("T")
Grid = Annotated[list[T], BeforeValidator(_listify), Field(min_length=1)]
"""A non-empty list (a grid dimension); a scalar means a one-entry list."""


def _check_spec(text: str) -> str:
    """A model spec that ``parse_spec`` accepts (and, for scripted models, a known policy)."""
    try:
        spec = parse_spec(text)
    except ConfigError as err:
        raise ValueError(str(err)) from None
    if spec.provider == "scripted":
        from negotiation.agents.registry import SCRIPTED_POLICIES

        if spec.model not in SCRIPTED_POLICIES:
            raise ValueError(f"unknown scripted policy {spec.model!r} (known: "
                             f"{', '.join(SCRIPTED_POLICIES)})")
    return text


Spec = Annotated[str, AfterValidator(_check_spec)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


_G = GenerateConfig()
Name = Annotated[str, Field(min_length=1)]


def bounded(name: str) -> Any:
    """``Field(ge=…, le=…)`` from the one table of bounds (``negotiation.runs.bounds``)."""
    low, high = BOUNDS[name]
    return Field(ge=low, le=high)


class ModelsSchema(_Strict):
    all: Spec | None = None
    parties: dict[str, Spec] = {}
    p1: Grid[Spec] | None = None


class CombinationsSchema(_Strict):
    of: Annotated[list[Name], Field(min_length=1)] | None = None
    k: Grid[Annotated[int, Field(ge=0)]]
    always: list[Name] = []


class PartiesSchema(_Strict):
    combinations: CombinationsSchema | None = None
    subsets: Annotated[list[list[Name]], Field(min_length=1)] | None = None


class GenerationSchema(_Strict):
    temperature: Grid[Annotated[float, Field(ge=0, le=2)]] = [_G.temperature]
    top_p: Grid[Annotated[float, Field(gt=0, le=1)] | None] = [_G.top_p]
    top_k: Grid[Annotated[int, Field(ge=1)] | None] = [_G.top_k]
    max_tokens: Grid[Annotated[int, bounded("max_tokens")]] = [_G.max_tokens]
    seed: Grid[Annotated[int, bounded("seed")] | None] = [_G.seed]
    timeout_s: Grid[Annotated[float, Field(gt=0)]] = [_G.timeout_s]


class RateLimitSchema(_Strict):
    max_in_flight: Annotated[int, bounded("max_in_flight")] | None = None
    requests_per_minute: float | None = Field(None, gt=0)
    tokens_per_minute: float | None = Field(None, gt=0)


class SampleSchema(_Strict):
    k: Annotated[int, bounded("sessions")]
    seed: Annotated[int, bounded("seed")] = 0


class ExperimentSchema(_Strict):
    name: Name | None = None
    out: Name = "logs"
    games: Grid[Name]
    models: Annotated[ModelsSchema, BeforeValidator(
        lambda v: {"all": v} if isinstance(v, str) else v)] = ModelsSchema()
    incentives: Annotated[list[dict[str, Name]], Field(min_length=1), BeforeValidator(
        lambda v: [v] if isinstance(v, dict) else v)] = [{}]
    parties: PartiesSchema | None = None
    generation: GenerationSchema = GenerationSchema()
    repetitions: Annotated[int, bounded("repetitions")] | None = None
    seeds: Grid[Annotated[int, bounded("seed")]] | None = None
    rounds: Annotated[int, bounded("rounds")] | None = None
    window: Annotated[int, bounded("window")] = 6
    vote: bool = True
    base_url: str | None = Field(None, pattern=r"^https?://")
    concurrency: Annotated[int, bounded("concurrency")] = 4
    workers: Annotated[int, bounded("workers")] = 1
    cache: Literal["on", "off", "replay"] = "on"
    structured: Literal["off", "grammar", "json", "auto"] = "auto"
    structured_bounds: dict[Literal["scratchpad", "public", "plan", "reason", "tail"],
                            Annotated[int, Field(ge=1, le=4000)]] = {}
    deal_space: Literal["all", "own"] = "all"
    rate_limits: dict[Literal[tuple(PROVIDERS)], RateLimitSchema] = {}  # type: ignore[valid-type]
    max_cost: float | None = Field(None, gt=0)
    prices: Name | None = None
    sample: SampleSchema | None = None


_MODELS: dict[tuple[str, ...], type[BaseModel]] = {
    (): ExperimentSchema, ("models",): ModelsSchema, ("parties",): PartiesSchema,
    ("parties", "combinations"): CombinationsSchema, ("generation",): GenerationSchema,
    ("rate_limits", "*"): RateLimitSchema, ("sample",): SampleSchema}


def allowed_keys(key: KeyPath) -> list[str]:
    """The keys the schema allows in the mapping at ``key`` (a data path)."""
    names = tuple(p for p in key if isinstance(p, str))
    if names[:1] == ("rate_limits",) and len(names) == 2:
        names = ("rate_limits", "*")
    model = _MODELS.get(names)
    return list(model.model_fields) if model is not None else []


def _data_path(data: Any, loc: tuple[str | int, ...]) -> KeyPath:
    """Follow pydantic's ``loc`` through the data, skipping union tags, ``[key]`` and the index
    that a scalar read as a one-entry list gets; a missing key ends the path."""
    path: list[str | int] = []
    for part in (p for p in loc if p != "[key]"):
        if isinstance(part, int) and not isinstance(data, list):
            continue
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(data, (dict, list)):
            return (*path, part)
        else:
            continue
        path.append(part)
    return tuple(path)


_MESSAGES = {"model_type": "should be a mapping", "dict_type": "should be a mapping",
             "list_type": "should be a list", "missing": "required key is missing"}


def _message(error: Mapping[str, Any], key: KeyPath) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = allowed_keys(key[:-1])
        close = difflib.get_close_matches(str(key[-1]), allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key (allowed: {', '.join(allowed)}){hint}"
    if kind == "too_short":
        return "must not be empty"
    text = _MESSAGES.get(kind) or str(error["msg"]).removeprefix("Input ")
    if kind == "value_error":
        return text.removeprefix("Value error, ")
    text = text[:1].lower() + text[1:]
    if kind != "missing":
        text += f", got {_kind(error.get('input'))}"
    return text


def validate_schema(doc: Document) -> ExperimentSchema:
    """Check keys and types; the first problem becomes an ``ExperimentError``.

    Problems are ordered by line, a missing key last (a misspelt key explains it better).
    """
    try:
        return ExperimentSchema.model_validate(doc.data)
    except ValidationError as err:
        found = []
        for error in err.errors():
            key = _data_path(doc.data, tuple(error["loc"]))
            found.append((error["type"] == "missing", doc.line_of(key), key, _message(error, key)))
        _, line, key, message = min(found, key=lambda f: f[:2])
        raise ExperimentError(doc.path, message, line, format_key(key)) from None
