"""Logging: structlog events routed through the standard ``logging`` module.

The library never configures logging on import: its loggers go through the
stdlib logger ``chatgpt_es``, so an application decides what it sees (by
default only warnings).  The CLI calls :func:`configure_logging`: quiet unless
``-v`` or ``CHATGPT_ES_LOG=debug``; JSON lines when stderr is not a terminal.
Every event passes :func:`redact_event`, so a proxy credential that slipped
into a value is masked before any renderer sees it.

structlog is imported when the first event is logged at a level someone listens to, not before: most
messages log nothing at the default level, and ``chatgpt-es ask`` should not pay for structlog (nor for
rich, which ``structlog.dev`` imports when it is installed) to say nothing.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

from stages.redact import redact

_secrets: tuple[str, ...] = ()
#: "json" (JSON lines) or "console" / "console-plain" (structlog's console renderer, with or without colours)
_style = "json"


def add_secrets(secrets: tuple[str, ...]) -> None:
    """Strings that must never appear in a log line (e.g. proxy credentials)."""
    global _secrets
    _secrets = tuple(sorted(set(_secrets) | {s for s in secrets if s}))


def redact_registered(text: str) -> str:
    """``text`` without any registered secret (and without URL credentials): for lines outside the log."""
    return redact(text, _secrets)


def redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if isinstance(value, str):
            event[key] = redact(value, _secrets)
        elif isinstance(value, dict | list | tuple):
            event[key] = _redact_deep(value)
    return event


def _redact_deep(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value, _secrets)
    if isinstance(value, dict):
        return {k: _redact_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_deep(v) for v in value]
    return value


@functools.cache
def _renderer(style: str) -> Any:
    structlog = importlib.import_module("structlog")
    if style == "json":
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(colors=style == "console")


def _render(logger: Any, name: str, event: MutableMapping[str, Any]) -> Any:
    return _renderer(_style)(logger, name, event)


@functools.cache
def _structlog_logger(name: str) -> Any:
    structlog = importlib.import_module("structlog")
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            structlog.stdlib.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_event,
            _render,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )


class Logger:
    """A structlog logger made on first use: an event below the stdlib logger's level costs one check."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._stdlib = logging.getLogger(name)

    def enabled(self, level: int) -> bool:
        return self._stdlib.isEnabledFor(level)

    def log(self, level: int, event: str, **facts: Any) -> None:
        if self._stdlib.isEnabledFor(level):
            _structlog_logger(self.name).log(level, event, **facts)

    def debug(self, event: str, **facts: Any) -> None:
        self.log(logging.DEBUG, event, **facts)

    def info(self, event: str, **facts: Any) -> None:
        self.log(logging.INFO, event, **facts)

    def warning(self, event: str, **facts: Any) -> None:
        self.log(logging.WARNING, event, **facts)

    def error(self, event: str, **facts: Any) -> None:
        self.log(logging.ERROR, event, **facts)

    def exception(self, event: str, **facts: Any) -> None:
        """An error with the traceback of the exception being handled."""
        self.log(logging.ERROR, event, exc_info=True, **facts)


def get_logger(name: str = "chatgpt_es") -> Logger:
    return Logger(name)


def level_from(verbose: int, environ: MutableMapping[str, str] | None = None) -> int:
    """``-v`` → INFO, ``-vv`` or ``CHATGPT_ES_LOG=debug`` → DEBUG, else WARNING."""
    env = (environ if environ is not None else os.environ).get("CHATGPT_ES_LOG", "").strip().upper()
    if verbose >= 2 or env == "DEBUG":
        return logging.DEBUG
    if verbose == 1 or env == "INFO":
        return logging.INFO
    return logging.WARNING


def configure_logging(level: int, *, json_lines: bool | None = None, stream: Any = None) -> None:
    """Send the library's events to stderr at ``level``: JSON lines unless stderr is a terminal."""
    global _style
    stream = stream or sys.stderr
    if json_lines is None:
        json_lines = not stream.isatty()
    _style = "json" if json_lines else "console-plain" if "NO_COLOR" in os.environ else "console"
    logger = logging.getLogger("chatgpt_es")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
