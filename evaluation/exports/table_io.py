"""Write typed tables (lists of row dicts) as CSV, JSON Lines or Parquet.

Every column has a kind: ``str``, ``int``, ``float``, ``bool`` or ``list`` (of strings). The
same rows give the same columns in all three formats:

- CSV (stdlib ``csv``, UTF-8, ``\\n`` line ends, minimal quoting: fields holding commas, quotes
  or newlines are quoted): missing values (and empty texts) are empty cells, booleans
  ``true``/``false``, lists joined with ``"; "``. **Formula guard** (on by default): a text
  cell starting with ``=``, ``+``, ``-``, ``@``, tab, carriage return or ``'`` gets a leading
  ``'``, so a spreadsheet shows model text instead of executing it (``=HYPERLINK(…)``,
  ``=cmd|…``). ``unguard`` undoes it exactly; numeric columns are never prefixed.
- JSON Lines: one object per line, ``null`` for missing values, lists as arrays, no guard.
- Parquet (needs ``pyarrow``): typed columns (``int64``, ``double``, ``bool``, ``string``,
  ``list<string>``), no guard.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from negotiation.core.errors import ConfigError
from negotiation.logs.records import write_atomic

FORMATS = ("csv", "jsonl", "parquet")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
"""Leading characters that make a CSV text cell get a ``'`` prefix."""
LIST_SEPARATOR = "; "

Columns = Sequence[tuple[str, str]]
Row = dict[str, Any]


def guard(text: str) -> str:
    """``text`` with a ``'`` prefix when a spreadsheet could read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unguard(text: str) -> str:
    """Undo ``guard`` (exact: ``unguard(guard(s)) == s`` for every string)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def csv_cell(value: Any, kind: str, formula_guard: bool = True) -> str:
    """One value as CSV text."""
    if value is None:
        return ""
    if kind == "bool":
        return "true" if value else "false"
    if kind == "list":
        value = LIST_SEPARATOR.join(str(v) for v in value)
    elif kind in ("int", "float"):
        return repr(value) if kind == "float" else str(int(value))
    text = str(value)
    return guard(text) if formula_guard else text


def parse_cell(text: str, kind: str, formula_guard: bool = True) -> Any:
    """Read back one CSV cell written by ``csv_cell`` (lists come back as lists)."""
    if text == "":
        return [] if kind == "list" else None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "bool":
        return text == "true"
    text = unguard(text) if formula_guard else text
    return text.split(LIST_SEPARATOR) if kind == "list" else text


def _csv_text(rows: Sequence[Row], columns: Columns, formula_guard: bool) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([guard(name) if formula_guard else name for name, _ in columns])
    for row in rows:
        writer.writerow([csv_cell(row.get(name), kind, formula_guard) for name, kind in columns])
    return buffer.getvalue()


def _jsonl_text(rows: Sequence[Row], columns: Columns) -> str:
    lines = []
    for row in rows:
        line = json.dumps({name: row.get(name) for name, _ in columns}, ensure_ascii=False)
        # U+2028/2029 are line breaks for some readers: keep one record per physical line
        lines.append(line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return "".join(line + "\n" for line in lines)


def require_pyarrow() -> Any:
    """The ``pyarrow`` module, or a ConfigError saying how to install it."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ConfigError("--format parquet needs pyarrow: pip install pyarrow") from None
    return pyarrow


def _arrow_type(pa: Any, kind: str) -> Any:
    return {"str": pa.string(), "int": pa.int64(), "float": pa.float64(),
            "bool": pa.bool_(), "list": pa.list_(pa.string())}[kind]


def _write_parquet(rows: Sequence[Row], columns: Columns, path: Path) -> None:
    pa = require_pyarrow()
    schema = pa.schema([(name, _arrow_type(pa, kind)) for name, kind in columns])
    table = pa.Table.from_pylist([{n: r.get(n) for n, _ in columns} for r in rows], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pa.parquet.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(rows: Sequence[Row], columns: Columns, stem: Path, fmt: str,
                formula_guard: bool = True) -> Path:
    """Write ``rows`` to ``stem.<fmt>`` atomically and return the path."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown table format {fmt!r} (expected {', '.join(FORMATS)})")
    path = stem.with_name(f"{stem.name}.{fmt}")
    if fmt == "csv":
        write_atomic(path, _csv_text(rows, columns, formula_guard))
    elif fmt == "jsonl":
        write_atomic(path, _jsonl_text(rows, columns))
    else:
        _write_parquet(rows, columns, path)
    return path
