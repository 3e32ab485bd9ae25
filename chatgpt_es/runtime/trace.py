"""What each stage took and returned: the trace a caller can inspect, and the logs.

Every stage the orchestrator runs goes through :class:`Trace`, which times
it, keeps its output (or error) as a :class:`StageRecord`, and logs one
structlog event ``stage`` with the key facts — never a cookie or a proxy
credential (those never reach a stage output, and error texts are redacted
where they are made).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import attrs

from stages.aipkit_events import collect_extras
from stages.endpoint import EndpointDecision
from stages.models import ChatBox, FollowUp, HttpRequest, NewNonce, Notice, Outcome, Page, Prompt, Text
from stages.redact import redact, redact_url
from stages.transport import Answer

from .logs import get_logger

P = ParamSpec("P")
T = TypeVar("T")
log = get_logger()


@attrs.frozen
class StageRecord:
    stage: str
    ms: float
    ok: bool
    output: Any = None
    error: BaseException | None = None
    note: str = ""

    def facts(self) -> dict[str, Any]:
        """The record as JSON-ready key facts (what ``trace --json`` prints and the log carries)."""
        data: dict[str, Any] = {"stage": self.stage, "ms": round(self.ms, 3), "ok": self.ok}
        if self.note:
            data["note"] = self.note
        if self.error is not None:
            data["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
        else:
            data["output"] = summarize(self.output)
        return data


@attrs.frozen
class ParseSummary:
    """What the parse stage produced from one answer."""

    chunks: int = 0
    chars: int = 0
    follow_up: str | None = None
    new_nonce: bool = False
    notices: tuple[str, ...] = ()
    #: AIPKit: the sources the answer cites, its response id (Responses mode), the site's warnings
    citations: tuple[dict[str, Any], ...] = ()
    response_id: str | None = None
    warnings: tuple[str, ...] = ()


def summarize(output: Any) -> Any:
    """Key facts of a stage output, small enough for a log line."""
    if isinstance(output, Prompt):
        return {"system_chars": len(output.system), "turns": len(output.turns), "message_chars": len(output.message),
                "history_lines": len(output.history_lines), "replaced_chars": output.replaced_chars,
                "history": output.history, "images": len(output.images)}
    if isinstance(output, Page):
        return {"url": redact_url(output.url), "status": output.status, "chars": len(output.text),
                "content_type": output.content_type}
    if isinstance(output, ChatBox):
        return {"protocol": output.protocol, "markup": output.markup,
                "nonce": {"value": output.nonce.value, "rule": output.nonce.rule, "at": output.nonce.position},
                "post_id": {"value": output.post_id.value, "rule": output.post_id.rule, "at": output.post_id.position},
                "bot_id": output.bot_id, "box_type": output.box_type, "stream": output.stream,
                "ajax_url": output.ajax_url, "containers": output.containers, "used_defaults": output.used_defaults,
                "name": output.name, "rest_root": redact_url(output.rest_root), **_boxes(output)}
    if isinstance(output, HttpRequest):
        return {"method": output.method, "url": redact_url(output.url), "purpose": output.purpose,
                "encoding": output.encoding if output.method == "POST" else None,
                "fields": {k: _short(redact(v)) for k, v in output.form + output.query},
                **({"json": _short(redact(output.json_body))} if output.json_body else {})}
    if isinstance(output, Answer):
        head = output.head
        return {"status": head.status, "content_type": head.content_type, "url": redact_url(head.url)}
    if isinstance(output, ParseSummary):
        return attrs.asdict(output)
    if isinstance(output, EndpointDecision):  # the endpoint policy's decision, credentials masked
        return {"endpoint": redact_url(output.endpoint), "given": redact_url(output.given),
                "allowed": output.allowed, "rule": output.rule, "reason": output.reason}
    if attrs.has(type(output)):
        return {k: summarize(v) for k, v in attrs.asdict(output, recurse=False).items()}
    if isinstance(output, str | int | float | bool) or output is None:
        return output
    if isinstance(output, dict):
        return {str(k): summarize(v) for k, v in output.items()}
    if isinstance(output, list | tuple):
        return [summarize(v) for v in output]
    return repr(output)


def _boxes(box: ChatBox) -> dict[str, Any]:
    """Every chat box of the page (id, name, protocol), and whether the page keeps Responses-mode state."""
    boxes = [{"id": b.bot_id, "name": b.name, "protocol": b.protocol} for b in box.boxes]
    return {"boxes": boxes, "conversation_state": box.conversation_state}


def _short(value: str, limit: int = 120) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@attrs.define
class Trace:
    """Records stages in order; one per message (or per ``trace`` command)."""

    records: list[StageRecord] = attrs.Factory(list)
    #: extra facts for every log line (e.g. a batch item's id)
    context: dict[str, Any] = attrs.Factory(dict)
    #: False when nobody will read the records (``pipeline.ask`` made the trace itself): a stage is then
    #: recorded only for a log line, so a message pays nothing for a trace it does not keep
    keep: bool = True

    def _wanted(self) -> bool:
        """Is a successful stage's record read by anyone (the caller, or a debug log line)?"""
        return self.keep or log.enabled(logging.DEBUG)

    def add(self, record: StageRecord) -> None:
        if self.keep:
            self.records.append(record)
        level = logging.DEBUG if record.ok else logging.INFO
        if log.enabled(level):  # the facts are only worth building for a log line
            facts = record.facts()
            facts.pop("stage")
            log.log(level, "stage", stage=record.stage, **facts, **self.context)

    def step(self, name: str, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a pure stage and record it."""
        start = time.perf_counter()
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            self.add(StageRecord(name, _ms(start), False, error=error))
            raise
        if self._wanted():
            self.add(StageRecord(name, _ms(start), True, result))
        return result

    async def astep(self, name: str, function: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run an I/O stage and record it."""
        start = time.perf_counter()
        try:
            result = await function(*args, **kwargs)
        except Exception as error:
            self.add(StageRecord(name, _ms(start), False, error=error))
            raise
        if self._wanted():
            self.add(StageRecord(name, _ms(start), True, result))
        return result

    async def parse(self, outcomes: AsyncIterator[Outcome], name: str = "parse") -> AsyncIterator[Outcome]:
        """Pass the parse stage's outcomes through; record one summary when it ends."""
        start = time.perf_counter()
        chunks = chars = 0
        follow_up: str | None = None
        new_nonce = False
        notices: list[str] = []
        others: list[Outcome] = []
        try:
            async for outcome in outcomes:
                if isinstance(outcome, Text):
                    chunks += 1
                    chars += len(outcome.text)
                elif isinstance(outcome, FollowUp):
                    follow_up = outcome.cache_key
                elif isinstance(outcome, NewNonce):
                    new_nonce = True
                elif isinstance(outcome, Notice):
                    notices.append(f"{outcome.kind}: {_short(outcome.detail, 80)}")
                    if outcome.kind == "warning":
                        log.warning("site_warning", detail=outcome.detail, **self.context)
                    elif outcome.kind == "status":
                        log.info("site_status", detail=outcome.detail, **self.context)
                if not isinstance(outcome, Text):
                    others.append(outcome)
                yield outcome
        except Exception as error:
            self.add(StageRecord(name, _ms(start), False, error=error,
                                 note=f"after {chunks} chunks, {chars} chars"))
            raise
        if not self._wanted():
            return
        extras = collect_extras(others)
        self.add(StageRecord(name, _ms(start), True,
                             ParseSummary(chunks, chars, follow_up, new_nonce, tuple(notices), extras.citations,
                                          extras.response_id, extras.warnings)))

    def note(self, stage: str, output: Any, note: str) -> None:
        """Record a stage that did not run because its result was at hand (e.g. a cached page)."""
        if self._wanted():
            self.add(StageRecord(stage, 0.0, True, output, note=note))

    def answer_extras(self, since: int = 0) -> ParseSummary | None:
        """The last parse summary among the records from ``since`` on: what the answer said besides text."""
        for record in reversed(self.records[since:]):
            if record.stage == "parse" and isinstance(record.output, ParseSummary):
                return record.output
        return None

    def failed(self) -> StageRecord | None:
        return next((r for r in self.records if not r.ok), None)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
