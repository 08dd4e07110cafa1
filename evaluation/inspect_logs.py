"""Session logs inside inspect_ai log files (``.eval``), for ``evaluate``, ``report`` and friends.

A negotiation task run by inspect_ai (``negotiation_inspect``) keeps each session's native log
in its sample's metadata under ``LOG_METADATA_KEY``. This module takes them out again with
``inspect_ai.log.read_eval_log`` and validates them exactly like session log files
(``negotiation.logs.reading.parse_log``), so every reader of native logs reads an ``.eval``
file too. Each session gets a virtual path ``RUN.eval/session-<id>.json``.

The rules of native logs apply: only a regular file inside the folder given is read, and the
size limit of one session log (``NEGOTIATION_MAX_LOG_BYTES``) bounds every member of the
archive by its *decompressed* size (checked before anything is decompressed) and every embedded
session log. inspect_ai is an optional extra (``pip install -e .[inspect]``); without it an
``.eval`` file is a one-line problem, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from negotiation.core.files import check_entry, log_file_limit
from negotiation.logs.reading import LoadedLog, LogReadError, LogSet, find_logs, parse_log

LOG_METADATA_KEY = "negotiation_log"
"""The sample metadata key holding the native session log (a JSON object)."""
EVAL_SUFFIX = ".eval"
EVAL_GLOB = "*" + EVAL_SUFFIX
ATTACHMENT = "attachment://"
INSTALL_HINT = "reading .eval files needs inspect_ai: pip install -e .[inspect]"


def find_eval_files(folder: Path, problems: list[str] | None = None) -> list[Path]:
    """``.eval`` files under a folder (recursively; regular files inside it only)."""
    return [p for p in find_logs(folder, (EVAL_GLOB,), problems) if p.suffix == EVAL_SUFFIX]


def _check_sizes(path: Path, limit: int) -> str | None:
    """Why the archive may not be opened (a member too large decompressed), else None."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.file_size > limit:
                    return (f"{info.filename}: {info.file_size:,} bytes decompressed exceed the "
                            f"limit of {limit:,} (raise it with NEGOTIATION_MAX_LOG_BYTES)")
    except (zipfile.BadZipFile, OSError) as err:
        return f"not an inspect_ai .eval archive ({err})"
    return None


def _embedded(value: Any, attachments: dict[str, str]) -> bytes | None:
    if isinstance(value, str):
        if value.startswith(ATTACHMENT):  # a writer that condensed the metadata
            value = attachments.get(value.removeprefix(ATTACHMENT))
            return None if value is None else value.encode("utf-8")
        return value.encode("utf-8")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False).encode("utf-8")
    return None


def read_eval_logs(path: Path, root: Path | None = None) -> LogSet:
    """The session logs of one ``.eval`` file, with one line per problem (never raises).

    Samples without a session log (they failed before their session started) and copies of a
    session already read (``--epochs`` above 1) are problems; the rest are entries in sample
    order.
    """
    result = LogSet(files=1)
    root = (root or path.parent).resolve()
    reason = check_entry(path, root)
    limit = log_file_limit()
    reason = reason or _check_sizes(path, limit)
    if reason is not None:
        result.problems.append(f"{path}: {reason}")
        return result
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        result.problems.append(f"{path}: {INSTALL_HINT}")
        return result
    try:
        eval_log = read_eval_log(str(path))
    except Exception as err:  # noqa: BLE001 - any failure of a foreign file is one problem
        detail = " ".join(str(err).split())[:200]
        result.problems.append(f"{path}: not a readable inspect_ai log ({detail})")
        return result
    seen: set[str] = set()
    for sample in eval_log.samples or []:
        where = path / f"sample-{sample.id}-epoch-{sample.epoch}"
        data = _embedded((sample.metadata or {}).get(LOG_METADATA_KEY), sample.attachments or {})
        if data is None:
            result.problems.append(f"{where}: no negotiation session log in this sample")
            continue
        if len(data) > limit:
            result.problems.append(f"{where}: session log of {len(data):,} bytes exceeds the "
                                   f"limit of {limit:,} (raise it with NEGOTIATION_MAX_LOG_BYTES)")
            continue
        try:
            log = parse_log(data, where.with_suffix(".json"))
        except LogReadError as err:
            result.problems.append(f"{where}: {err.reason}")
            continue
        if log.session_id in seen:
            result.problems.append(f"{where}: session {log.session_id} again (another epoch), "
                                   "counted once")
            continue
        seen.add(log.session_id)
        result.entries.append(LoadedLog(path / f"session-{log.session_id}.json", log,
                                        hashlib.sha256(data).hexdigest()))
    if not result.entries and not result.problems:
        result.problems.append(f"{path}: no session logs found")
    return result
