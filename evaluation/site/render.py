"""Jinja2 rendering of the report pages, with autoescaping and a strict Content-Security-Policy.

Every template is rendered with ``autoescape=True``: any text from a model or a game folder
(messages, scratchpads, plans, party and game names, prompts) is HTML-escaped, so
``<script>alert(1)</script>`` shows as text. The only unescaped inserts are this package's own
stylesheet and script, inlined verbatim and allowed by the page's CSP through their SHA-256
hashes; the CSP forbids every other script, style element and load (images only as
``data:`` URIs), as defence in depth.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from negotiation.agents.specs import seat_label

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(css: str, js: str, live: bool = False) -> str:
    """The CSP of every page: nothing external; only our inline style and script run.

    ``live=True`` (the live view of ``report --live`` only) also allows ``connect-src 'self'``:
    the page's script may poll JSON from the server that served it, and nothing else.
    """
    connect = "connect-src 'self'; " if live else ""
    return ("default-src 'none'; img-src data:; "
            f"style-src {_hash(css)}; script-src {_hash(js)}; {connect}"
            "base-uri 'none'; form-action 'none'")


def fmt_rate(value: dict[str, Any] | None) -> str:
    """``0.50 [0.09, 0.91] (1/2)``, or ``-`` without data."""
    if not value or value.get("rate") is None:
        return "-" if not value else f"- (0/{value.get('n', 0)})"
    ci = value["ci95"]
    return f"{value['rate']:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] ({value['k']}/{value['n']})"


def rate_html(value: dict[str, Any] | None) -> Markup:
    """``fmt_rate`` with the interval and counts on a second, muted line."""
    text = fmt_rate(value)
    head, sep, tail = text.partition(" ")
    return Markup('{} <span class="ci">{}</span>').format(head, tail) if sep else Markup.escape(text)


def mean_html(value: dict[str, Any] | None) -> Markup:
    """``fmt_mean`` with the interval and n on a second, muted line."""
    text = fmt_mean(value)
    head, sep, tail = text.partition(" ")
    return Markup('{} <span class="ci">{}</span>').format(head, tail) if sep else Markup.escape(text)


def fmt_mean(value: dict[str, Any] | None, digits: int = 2) -> str:
    """``0.25 [0.10, 0.40] (n=4)``, or ``-`` without data."""
    if not value or value.get("mean") is None:
        return "-"
    ci = value.get("ci95")
    interval = f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else ""
    return f"{value['mean']:.{digits}f}{interval} (n={value['n']})"


def fmt_cost(value: float | None, currency: str = "USD") -> str:
    """A cost with four decimals, or ``unknown``."""
    return "unknown" if value is None else f"{value:.4f} {currency}"


def fmt_int(value: int | None) -> str:
    """An integer with thousands separators."""
    return "-" if value is None else f"{value:,}"


def environment() -> Environment:
    """The Jinja2 environment of the report (autoescape on, strict undefined)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    css = (STATIC / "style.css").read_text(encoding="utf-8")
    js = (STATIC / "site.js").read_text(encoding="utf-8")
    env.globals.update(css=Markup(css), js=Markup(js), csp=content_security_policy(css, js))
    env.filters.update(rate=rate_html, mean=mean_html, cost=fmt_cost, num=fmt_int,
                       seat=seat_label)
    return env


def write_page(env: Environment, template: str, path: Path, **context: Any) -> Path:
    """Render ``template`` with ``context`` into ``path``."""
    html = env.get_template(template).render(**context)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
