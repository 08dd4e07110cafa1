"""Keeps inspect_ai runs of the tests on this machine.

* ``o200k_base`` without a download: inspect's ``mockllm/model`` counts the tokens of its
  input with tiktoken's ``o200k_base``, which tiktoken fetches from the internet on first use
  (no inspect or tiktoken setting avoids that without the file at hand). A byte-level stand-in
  is registered under that name instead (counts are bytes: fine for a mock).
* A network guard: a connection to anything but the loopback interface (or a name lookup of
  another host) is refused and recorded, in memory and, with ``NEGOTIATION_NET_LOG`` set, as a
  line in that file, so a test can assert that nothing tried to leave the machine.

``install()`` does both in this process and returns a function that removes the guard again;
``offline_env(tmp, log)`` is the environment of a subprocess that does the same at start (a
``sitecustomize.py`` on its ``PYTHONPATH``): the ``inspect`` commands of the CLI tests.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

NET_LOG_ENV = "NEGOTIATION_NET_LOG"
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost", "0.0.0.0", ""})
attempts: list[str] = []
ROOT = Path(__file__).resolve().parents[2]


def _record(what: str) -> None:
    attempts.append(what)
    path = os.environ.get(NET_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(what + "\n")


def _host_of(address: Any) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return "" if isinstance(address, str | bytes) else str(address)  # AF_UNIX paths are local


def _local(host: str) -> bool:
    return host in LOCAL_HOSTS or host.startswith("127.")


def byte_encoding(name: str) -> Any:
    """A tiktoken ``Encoding`` of single bytes (no merges), named ``name``."""
    import tiktoken

    return tiktoken.Encoding(name=name, pat_str=r"\S+|\s+",
                             mergeable_ranks={bytes([i]): i for i in range(256)},
                             special_tokens={})


def install() -> Callable[[], None]:
    """The stand-in vocabulary and the network guard, in this process; returns the function
    that removes the guard (the vocabulary stays: it only ever replaces a download)."""
    try:
        import tiktoken.registry
    except ImportError:
        pass
    else:
        for name in ("o200k_base", "cl100k_base"):
            tiktoken.registry.ENCODINGS.setdefault(name, byte_encoding(name))

    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        host = _host_of(address)
        if self.family != socket.AF_UNIX and not _local(host):
            _record(f"connect {address}")
            raise OSError(f"test network guard: connection to {address} refused")
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        host = _host_of(address)
        if self.family != socket.AF_UNIX and not _local(host):
            _record(f"connect {address}")
            return 111  # ECONNREFUSED
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if not _local(name):
            _record(f"lookup {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: lookup of {name}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo  # type: ignore[assignment]

    def uninstall() -> None:
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

    return uninstall


def sitecustomize_dir(folder: Path) -> Path:
    """A folder with a ``sitecustomize.py`` that calls ``install()`` (put it, and the
    repository, on ``PYTHONPATH``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "from tests.fakes.inspect_offline import install\ninstall()\n", encoding="utf-8")
    return folder


def offline_env(folder: Path, net_log: Path) -> dict[str, str]:
    """The environment of an offline ``inspect`` subprocess (guard and stand-in installed)."""
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(offline_settings())
    paths = [str(sitecustomize_dir(folder)), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env[NET_LOG_ENV] = str(net_log)
    return env


UNSET = ("INSPECT_TELEMETRY", "INSPECT_API_KEY_OVERRIDE", "INSPECT_REQUIRED_HOOKS",
         "INSPECT_EVAL_MODEL", "INSPECT_EVAL_MODEL_ROLE", "INSPECT_LOG_DIR")
"""inspect settings that would load hook packages (telemetry, key overrides) or change what a
test runs; inspect sends nothing anywhere without them."""


def offline_settings() -> dict[str, str]:
    """Environment settings that keep inspect_ai and the libraries it uses local: no display,
    Hugging Face offline (the hf provider), no tokenizer vocabulary fetched."""
    return {"INSPECT_DISPLAY": "none", "INSPECT_LOG_LEVEL": "warning",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "NO_PROXY": "127.0.0.1,localhost"}
