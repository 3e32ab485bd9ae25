"""Readable renderings of a trace: one line per stage, for people; JSON lines for tools."""

from __future__ import annotations

import json
from typing import Any

from chatgpt_es.runtime.trace import StageRecord, summarize
from stages.models import ChatBox, Page


def _line_of(page: Page | None, position: int | None) -> str:
    if page is None or position is None:
        return ""
    return f" @ line {page.text.count(chr(10), 0, position) + 1}"


def describe(record: StageRecord, page: Page | None = None) -> str:
    """One stage's output (or error) in a few words."""
    if record.error is not None:
        return f"{type(record.error).__name__}: {record.error}" + (f" ({record.note})" if record.note else "")
    facts = summarize(record.output)
    if record.note:
        return record.note
    if record.stage == "prompt":
        return (f"{facts['turns']} earlier turns, message {facts['message_chars']} chars, "
                f"system prompt {facts['system_chars']} chars, {facts['replaced_chars']} history chars replaced")
    if record.stage == "fetch":
        return f"GET {facts['url']} → {facts['status']} {facts['content_type']} ({facts['chars']} chars)"
    if record.stage == "extract" and isinstance(record.output, ChatBox):
        box = record.output
        kind = {"legacy": "legacy wpaicg", "aipkit": "AIPKit"}.get(box.protocol)
        where = f"{kind} chat box <{box.markup}>" if kind else "NO chat box on this page"
        text = (f"{where}: nonce {box.nonce.value} [{box.nonce.rule}{_line_of(page, box.nonce.position)}], "
                f"post_id {box.post_id.value} [{box.post_id.rule}{_line_of(page, box.post_id.position)}]")
        if box.protocol == "legacy":
            text += f", bot {box.bot_id}, {box.box_type}, stream {'on' if box.stream else 'off'}"
        elif box.protocol == "aipkit":
            text += f", bot {box.bot_id}"
        if len(box.boxes) > 1:
            text += f"; {len(box.boxes)} chat boxes: " + ", ".join(
                f"bot {b.bot_id}" + (f" {b.name!r}" if b.name else "") + f" ({b.protocol})" for b in box.boxes)
        if box.used_defaults:
            text += " — FELL BACK to the seed's default values: the site will most likely refuse them"
        return text
    if record.stage == "choose" and isinstance(record.output, ChatBox):
        box = record.output
        return f"bot {box.bot_id}" + (f" {box.name!r}" if box.name else "") + f", protocol {box.protocol}"
    if record.stage == "payload":
        fields = " ".join(f"{k}={_short(str(v))}" for k, v in facts["fields"].items())
        return f"{facts['method']} {facts['url']} ({facts['purpose']}) {fields}"
    if record.stage == "send":
        return f"{facts['status']} {facts['content_type']}"
    if record.stage == "endpoint" and isinstance(facts, dict) and "rule" in facts:
        verdict = "allowed" if facts["allowed"] else "REFUSED"
        return f"{verdict} ({facts['rule']}): {facts['endpoint']} — {facts['reason']}"
    if record.stage == "parse":
        parts = [f"{facts['chunks']} text chunks, {facts['chars']} chars"]
        if facts.get("follow_up"):
            parts.append(f"follow-up: cache key {facts['follow_up']}")
        if facts.get("new_nonce"):
            parts.append("a fresh nonce")
        parts += list(facts.get("notices") or ())
        return "; ".join(parts)
    return json.dumps(facts, ensure_ascii=False, default=str)


def _short(value: str, limit: int = 60) -> str:
    value = value.replace("\n", "⏎")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def render_lines(records: list[StageRecord]) -> list[str]:
    page = next((r.output for r in records if isinstance(r.output, Page)), None)
    lines = []
    for record in records:
        mark = "ok " if record.ok else "ERR"
        lines.append(f"{record.stage:<8} {record.ms:9.1f} ms  {mark}  {describe(record, page)}")
    return lines


def render_json(records: list[StageRecord]) -> list[str]:
    return [json.dumps(record.facts(), ensure_ascii=False, default=str) for record in records]


def stage_json(output: Any) -> str:
    return json.dumps(summarize(output), ensure_ascii=False, indent=2, default=str)
