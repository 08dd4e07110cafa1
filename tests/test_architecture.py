"""The layout's promises, checked by reading the source: no cycle between packages, the core
imports nothing above it, and turn kinds and veto roles are spelled out only in the core."""

from __future__ import annotations

import ast
from pathlib import Path

from negotiation.core.game import VETO_ROLES
from negotiation.core.phases import Phase

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("negotiation_cli", "evaluation", "negotiation", "negotiation_inspect")
LAYERS = {
    # a package may import only the packages listed for it (and itself)
    "negotiation.core": set(),
    "negotiation.logs": {"negotiation.core"},
    "negotiation.protocol": {"negotiation.core", "negotiation.logs"},
    "negotiation.backends": {"negotiation.core"},
    "negotiation.agents": {"negotiation.core", "negotiation.logs", "negotiation.protocol",
                           "negotiation.backends"},
    "negotiation.games": {"negotiation.core", "negotiation.logs", "negotiation.protocol",
                          "negotiation.agents", "negotiation.backends"},
    "negotiation.runs": {"negotiation.core", "negotiation.logs", "negotiation.protocol",
                         "negotiation.games", "negotiation.backends", "negotiation.agents",
                         "negotiation"},
}
RESERVED = {p.value for p in Phase} | set(VETO_ROLES)


def modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(path: Path) -> set[str]:
    """The project modules a file imports (absolute imports, lazy ones included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def package_of(module: str) -> str:
    """``negotiation.core.rules`` -> ``negotiation.core``; top-level packages as themselves."""
    parts = module.split(".")
    if parts[0] == "negotiation" and len(parts) > 1 and f"negotiation.{parts[1]}" in LAYERS:
        return f"negotiation.{parts[1]}"
    return parts[0]


def test_every_negotiation_module_sits_in_a_layer() -> None:
    loose = [m for m in modules() if m.startswith("negotiation.")
             and package_of(m) not in LAYERS]
    assert loose == []


def test_packages_import_only_downwards() -> None:
    wrong = []
    for name, path in modules().items():
        own = package_of(name)
        allowed = LAYERS.get(own)
        for target in imports(path):
            other = package_of(target)
            if other == own:
                continue
            if own == "evaluation" and other == "negotiation_cli":
                wrong.append((name, target))
            if own in ("negotiation",) or own.startswith("negotiation."):
                if other in ("evaluation", "negotiation_cli"):
                    wrong.append((name, target))
                elif allowed is not None and other not in allowed:
                    wrong.append((name, target))
    assert wrong == []


def test_no_cycle_between_top_level_packages() -> None:
    edges = {(package_of(n).split(".")[0], package_of(t).split(".")[0])
             for n, p in modules().items() for t in imports(p)}
    assert ("negotiation", "evaluation") not in edges
    assert ("evaluation", "negotiation_cli") not in edges
    assert ("negotiation", "negotiation_cli") not in edges


def test_only_the_inspect_extension_imports_inspect() -> None:
    """``negotiation_inspect`` sits on top: nothing else imports it, and inspect_ai is
    imported only there and by the reader of ``.eval`` files (inside a function), so the
    harness runs without the ``inspect`` extra."""
    lazy_reader = "evaluation.inspect_logs"
    wrong = []
    for name, path in modules().items():
        if name.split(".")[0] == "negotiation_inspect":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(tree.body) if name == lazy_reader else set()
        for node in ast.walk(tree):
            if name == lazy_reader and node not in top and isinstance(node, ast.ImportFrom) \
                    and (node.module or "").startswith("inspect_ai"):
                continue
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            wrong += [(name, n) for n in names
                      if n.split(".")[0] in ("negotiation_inspect", "inspect_ai")]
    assert wrong == []


def _literals(node: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def decisive_literals(path: Path) -> list[tuple[int, str]]:
    """String literals that decide something: compared (``phase == "vote"``, ``role in
    ("p1", "p2")``), used as a key (``helpers["moderator"]``), or passed as ``phase=``/``role=``.
    Labels such as a table's column names are not decisions."""
    found: list[ast.Constant] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            found += _literals(node)
        elif isinstance(node, ast.Subscript):
            found += _literals(node.slice)
        elif isinstance(node, ast.keyword) and node.arg in ("phase", "role", "kind"):
            found += _literals(node.value)
        elif isinstance(node, ast.match_case):
            found += _literals(node.pattern)
    return [(n.lineno, n.value) for n in found]


def test_turn_kinds_and_veto_roles_are_spelled_only_in_the_core() -> None:
    offenders = []
    for name, path in modules().items():
        if package_of(name) == "negotiation.core":
            continue
        offenders += [f"{path.relative_to(ROOT)}:{line}: {value!r}"
                      for line, value in decisive_literals(path) if value in RESERVED]
    assert offenders == []


def test_the_literal_check_catches_a_comparison(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('if turn.phase == "vote" or role in ("p1", "x"):\n    rows["final"] = 1\n'
                      'columns = {"vote": 1}\n', encoding="utf-8")
    assert sorted(v for _, v in decisive_literals(sample)) == ["final", "p1", "vote", "x"]
