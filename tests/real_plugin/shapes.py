"""The shape of an HTTP answer (status, content type, JSON keys or SSE event kinds), independent of the exact
text, so the local site's answers can be compared with the real plugin's; and the table that shows them."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
from conftest import Answer

import stages

#: JSON keys whose value is a kind, not content: kept verbatim in a shape
KIND_KEYS = frozenset({"status", "success", "code", "finish_reason", "finished", "role", "type"})


def content_type(answer: Answer) -> str:
    """The content type, lowercased and without spaces (``text/event-stream;charset=utf-8``)."""
    value = next((v for k, v in answer.headers.items() if k.lower() == "content-type"), "")
    return re.sub(r"\s+", "", value.lower())


def json_shape(value: Any, key: str = "") -> str:
    """Keys and value types, recursively; a list shows each distinct item shape once; kind values are kept."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{json_shape(v, k)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + " | ".join(dict.fromkeys(json_shape(item) for item in value)) + "]"
    if key in KIND_KEYS and (isinstance(value, bool | str) or value is None):
        return json.dumps(value)
    return "null" if value is None else type(value).__name__


def _chunk_kind(data: Any) -> str:
    """An OpenAI-style chunk as the plugin relays it: role, content or finish."""
    choice = (data.get("choices") or [{}])[0]
    delta = choice.get("delta") or {}
    if choice.get("finish_reason"):
        return f"chunk(finish={choice['finish_reason']})"
    return "chunk(" + ",".join(k for k in ("role", "content") if k in delta) + ")"


def event_kind(event: str | None, data: str) -> str:
    name = f"{event}:" if event else ""
    try:
        parsed = json.loads(data)
    except ValueError:
        return name + data[:20]
    if isinstance(parsed, dict) and "choices" in parsed:
        return name + _chunk_kind(parsed)
    return name + json_shape(parsed)


def sse_shape(body: bytes) -> str:
    """Event kinds in order; a run of the same kind is shown once with ``+``; comment blocks as ``:comment``."""
    kinds: list[str] = []
    for block in body.decode("utf-8", "replace").split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        if all(line.startswith(":") for line in lines):
            kind = ":comment"
        else:
            fields = dict(line.partition(": ")[::2] for line in lines if not line.startswith(":"))
            kind = event_kind(fields.get("event"), fields.get("data", ""))
        if kinds and kinds[-1].rstrip("+") == kind:
            kinds[-1] = kind + "+"
        else:
            kinds.append(kind)
    return " ".join(kinds)


def body_shape(answer: Answer) -> str:
    kind = content_type(answer)
    if kind.startswith("text/event-stream"):
        return sse_shape(answer.body)
    text = answer.body.decode("utf-8", "replace")
    if kind.startswith("application/json"):
        try:
            return json_shape(json.loads(text))
        except ValueError:
            return f"not JSON: {text[:40]!r}"
    if "<html" in text[:2000].lower():
        box = stages.extract_chatbox(text)
        return f"page: {box.protocol} chat box ({box.markup}), nonce by {box.nonce.rule}"
    return repr(text[:60])


@attrs.frozen
class Shape:
    status: int
    content_type: str
    body: str

    @classmethod
    def of(cls, answer: Answer) -> Shape:
        return cls(answer.status, content_type(answer), body_shape(answer))


@attrs.frozen
class Comparison:
    """One exchange sent to both sites; ``known`` explains a difference the suite accepts for now."""

    name: str
    local: Shape
    real: Shape
    known: str = ""

    @property
    def same(self) -> bool:
        return self.local == self.real


#: every comparison the session made, printed as a table at the end (conftest's terminal summary)
COMPARISONS: list[Comparison] = []


def table(rows: list[Comparison]) -> list[str]:
    """The comparison as text lines: one row per exchange, then the two shapes where they differ."""
    lines = [f"{'exchange':42} {'status':9} {'content type':32} verdict"]
    for row in rows:
        status = f"{row.local.status}/{row.real.status}"
        types = row.real.content_type if row.local.content_type == row.real.content_type else (
            f"{row.local.content_type} ≠ {row.real.content_type}")
        verdict = "same" if row.same else ("KNOWN DIFFERENCE: " + row.known if row.known else "DIFFERENT")
        lines.append(f"{row.name:42} {status:9} {types:32} {verdict}")
        if row.local.body == row.real.body:
            lines.append(f"    shape: {row.real.body}")
        else:
            lines += [f"    local: {row.local.body}", f"    real:  {row.real.body}"]
    return lines
