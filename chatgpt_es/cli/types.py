"""click parameter types that check what a person typed: a mistake is a usage error (one line, exit 2).

Each type converts and checks one kind of value, and its message names the option and the bad value.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stages.checks import host_problem, site_url
from stages.errors import InvalidUrlError

# click's ParamType takes its value types as parameters from click 8.5 on; older releases (>= 8.2, the lower
# bound) cannot be subscripted at run time, so the parameters exist for the type checker only.
if TYPE_CHECKING:
    FloatType = click.ParamType[float, Any]
    IntType = click.ParamType[int, Any]
    TextType = click.ParamType[str, Any]
    PathType = click.ParamType[Path, Any]
else:
    FloatType = IntType = TextType = PathType = click.ParamType


class Seconds(FloatType):
    """A finite number of seconds > 0 (``--timeout 0``, ``-5``, ``inf`` and ``nan`` are refused)."""

    name = "seconds"

    def __init__(self, allow_zero: bool = False, unit: str = "seconds") -> None:
        self.allow_zero = allow_zero
        self.unit = unit

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of {self.unit}", param, ctx)
        floor_ok = seconds >= 0 if self.allow_zero else seconds > 0
        if not math.isfinite(seconds) or not floor_ok:
            self.fail(f"{value!r} is not a finite number of {self.unit} {'>= 0' if self.allow_zero else '> 0'}",
                      param, ctx)
        return seconds


class Probability(FloatType):
    """A finite number in [0, 1]."""

    name = "rate"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            rate = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not 0.0 <= rate <= 1.0:  # also refuses nan
            self.fail(f"{value!r} is not a probability between 0 and 1", param, ctx)
        return rate


class Count(IntType):
    """A whole number >= ``minimum`` (``hint`` says what the count means, for the error)."""

    name = "count"

    def __init__(self, minimum: int = 1, hint: str = "") -> None:
        self.minimum = minimum
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a whole number", param, ctx)
        if number < self.minimum:
            self.fail(f"{value!r} is below {self.minimum}{f' ({self.hint})' if self.hint else ''}", param, ctx)
        return number


PORT = click.IntRange(0, 65535)


class SiteUrl(TextType):
    """An http(s) URL with a valid host and port (checked before any request)."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return site_url(value, "the URL")
        except InvalidUrlError as error:
            self.fail(str(error).strip(), param, ctx)


class Host(TextType):
    """A host name or IP address to listen on."""

    name = "host"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        problem = host_problem(str(value).strip("[]")) if str(value).strip() else "the host is empty"
        if problem:
            self.fail(problem, param, ctx)
        return str(value)


class WritableFile(PathType):
    """A file this process can create or append to: its folder exists and is writable, it is no folder."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        problem = writable_problem(path)
        if problem:
            self.fail(f"{str(value)!r}: {problem}", param, ctx)
        return path


def writable_problem(path: Path) -> str:
    """Why ``path`` cannot be written; "" when it can."""
    if path.is_dir():
        return "is a folder, not a file"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"its folder {str(folder)!r} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return "is not writable"
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {str(folder)!r} is not writable"
    return ""


class WritableFolder(PathType):
    """A folder that exists and is writable, or can be made inside one that is."""

    name = "folder"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.exists() and not path.is_dir():
            self.fail(f"{str(value)!r} is a file, not a folder", param, ctx)
        existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            self.fail(f"{str(value)!r}: {str(existing)!r} is not a writable folder", param, ctx)
        return path
