"""``report``: write the static HTML report of some runs, and optionally serve it locally.

``python main.py report RUN... --out DIR [--serve [--port P]]``. The site opens from disk
(``DIR/index.html``); ``--serve`` is a convenience that serves DIR with the standard library,
bound to 127.0.0.1 only.

``python main.py report RUN --serve --live [--port P] [--out DIR]`` serves a live view of one
run folder while a sweep writes into it (``evaluation.site.live``); its two pages go to
``DIR/live/`` (a temporary folder without ``--out``).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from negotiation.core.errors import ConfigError
from negotiation_cli.loading import warn

HOST = "127.0.0.1"


def add_report(p: argparse.ArgumentParser) -> None:
    """Options of ``report``."""
    p.add_argument("runs", nargs="+", type=Path, help="run folders (read recursively) or files")
    p.add_argument("--out", type=Path, help="folder to write the site into (required unless "
                   "--live)")
    p.add_argument("--rules", choices=("default", "paper"), default="default",
                   help="rule set of the metrics (as in evaluate)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals")
    p.add_argument("--prices", type=Path, help="price table (default ./prices.yaml, else the "
                   "shipped example)")
    p.add_argument("--serve", action="store_true", help=f"serve --out on http://{HOST}:PORT/")
    p.add_argument("--port", type=int, default=8000, help="port of --serve (default 8000)")
    p.add_argument("--live", action="store_true", help="with --serve: a live view of one run "
                   "folder that a sweep is writing (pages refresh themselves)")


def make_server(folder: Path, port: int) -> ThreadingHTTPServer:
    """An HTTP server of ``folder`` on 127.0.0.1:``port`` (0 picks a free port)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    try:
        return ThreadingHTTPServer((HOST, port), handler)
    except OSError as err:
        raise ConfigError(f"--port {port}: cannot listen on {HOST}: {err.strerror}") from None


def serve(folder: Path, port: int) -> None:
    """Serve ``folder`` until interrupted."""
    server = make_server(folder, port)
    print(f"serving {folder} on http://{HOST}:{server.server_address[1]}/ (Ctrl-C stops)")
    serve_until_interrupted(server)


def serve_until_interrupted(server: ThreadingHTTPServer) -> None:
    """Run ``server`` until Ctrl-C, then close it."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def cmd_report(args: argparse.Namespace) -> int:
    """Build the site; print its index; serve it with --serve."""
    from evaluation.site import build_site

    if not 0 <= args.port <= 65535:
        raise ConfigError("--port must be 0-65535")
    if args.live:
        return cmd_live(args)
    if args.out is None:
        raise ConfigError("--out is required (it may be left out only with --live)")
    missing = [str(p) for p in args.runs if not p.exists()]
    if missing:
        raise ConfigError(f"no such run folder or file: {', '.join(missing)}")
    problems: list[str] = []
    written = build_site(list(args.runs), args.out, rules=args.rules, seed=args.seed,
                         prices=args.prices, problems=problems)
    for line in problems:
        warn(line)
    pages = [p for p in written if p.suffix == ".html"]
    print(f"wrote {len(pages)} pages to {args.out}; open {written[0]}")
    if args.serve:
        serve(args.out, args.port)
    return 0


def cmd_live(args: argparse.Namespace) -> int:
    """Serve the live view of one run folder until interrupted (``--serve --live``)."""
    from evaluation.site.live import make_live_server

    if not args.serve:
        raise ConfigError("--live serves a live view: add --serve")
    if len(args.runs) != 1:
        raise ConfigError("--live takes exactly one run folder")
    run = args.runs[0]
    if run.exists() and not run.is_dir():
        raise ConfigError(f"--live needs a run folder, not a file: {run}")
    with tempfile.TemporaryDirectory(prefix="negotiation-live-") as scratch:
        out = args.out if args.out is not None else Path(scratch)
        server = make_live_server(run, out, args.port)
        if not run.exists():
            print(f"{run} does not exist yet: the view waits for the sweep to create it")
        print(f"live view of {run} on {server.url} (pages in {out / 'live'}; Ctrl-C stops)")
        serve_until_interrupted(server)
    return 0
