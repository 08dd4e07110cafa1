"""The Jinja2 environment every prompt is rendered in: a sandbox over the game's and library's
template folders.

Game folders may come from strangers and may override templates (their ``prompts/`` folder), so
templates run in an ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``: an unknown
variable, a forbidden attribute or an attempt to modify a list or dict passed in is a
``TemplateError``, never silent text (so the per-party variables can be shared by every turn).
Template files are read like every game file (``core/files.read_inside``).
"""

from __future__ import annotations

import functools
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from negotiation.core.errors import TemplateError
from negotiation.core.files import UnsafeFileError, game_file_limit, read_inside

LIBRARY_PROMPTS = Path(__file__).resolve().parent / "prompts"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``plural(5, "party", "parties")`` -> ``"5 parties"``; ``plural(1, "party")`` -> ``"1 party"``."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{n} {word}"


class FolderLoader(jinja2.BaseLoader):
    """Templates from one folder, read like every game file: only regular files inside the
    folder (a symlink out of it, a FIFO or a device is refused), at most 1 MB each."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def get_source(self, environment: jinja2.Environment,
                   template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.root.joinpath(*jinja2.loaders.split_template_path(template))
        if not (path.exists() or path.is_symlink()):
            raise jinja2.TemplateNotFound(template)
        try:
            text = read_inside(path, self.root, game_file_limit()).decode("utf-8")
        except UnsafeFileError as err:
            raise TemplateError(f"{path}: {err.reason}") from None
        except UnicodeDecodeError as err:
            raise TemplateError(f"{path}: not valid UTF-8 ({err.reason})") from None
        mtime = path.stat().st_mtime
        return text, str(path), lambda: path.exists() and path.stat().st_mtime == mtime


def make_environment(game_prompts: Path | None = None) -> ImmutableSandboxedEnvironment:
    """A sandboxed environment reading the game's templates first, then the library's.

    Compiled templates are kept per state of the template folders (their files' names, sizes
    and modification times, read here): compiling costs ~20 ms, and an environment never
    checks its files again while rendering (``auto_reload=False``: no ``stat`` per template per
    render). A template edited since is seen by the next environment made for the game.
    """
    folders = (game_prompts, LIBRARY_PROMPTS) if game_prompts is not None else (LIBRARY_PROMPTS,)
    return _environment(game_prompts, tuple(_stamp(f) for f in folders))


def _stamp(folder: Path) -> tuple[tuple[str, int, int], ...]:
    if not folder.is_dir():
        return ()
    return tuple(sorted((str(p.relative_to(folder)), st.st_mtime_ns, st.st_size)
                        for p in folder.rglob("*.j2") for st in (p.lstat(),)))


@functools.lru_cache(maxsize=64)
def _environment(game_prompts: Path | None,
                 stamp: tuple[object, ...]) -> ImmutableSandboxedEnvironment:
    loaders: list[jinja2.BaseLoader] = []
    if game_prompts is not None:
        loaders.append(FolderLoader(game_prompts))
    loaders.append(FolderLoader(LIBRARY_PROMPTS))
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined, autoescape=False,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False, auto_reload=False)
    env.filters["plural"] = plural
    env.globals["plural"] = plural
    return env


def template_exists(env: jinja2.Environment, name: str) -> bool:
    """Whether a template (e.g. ``incentives/greedy.j2``) exists in the game or library."""
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    return True


def render(env: jinja2.Environment, name: str, context: dict[str, Any],
           part: bool = False) -> str:
    """Render a template, turning every Jinja2 failure into a ``TemplateError``; a whole
    prompt is stripped and ends with one newline, a ``part`` is exactly what ``include`` of
    the template would insert."""
    try:
        text = env.get_template(name).render(**context)
        return text if part else text.strip() + "\n"
    except jinja2.TemplateNotFound as err:
        raise TemplateError(f"template {err.name!r} not found") from None
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(f"{err.filename or name}:{err.lineno}: {err.message}") from None
    except jinja2.UndefinedError as err:
        where = _failing_template(err, name)
        raise TemplateError(f"{where}: undefined variable: {err.message}") from None
    except SecurityError as err:
        where = _failing_template(err, name)
        raise TemplateError(f"{where}: forbidden by the template sandbox: {err}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as err:
        where = _failing_template(err, name)
        raise TemplateError(f"{where}: template failed: {type(err).__name__}: {err}") from None


def _failing_template(err: BaseException, default: str) -> str:
    """The template file (and line) where a rendering error happened, from the traceback."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.endswith(".j2")]
    if not frames:
        return default
    return f"{frames[-1].filename}:{frames[-1].lineno}"
