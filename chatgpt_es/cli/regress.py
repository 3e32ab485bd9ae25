"""Replay saved fixture cases through the stages and compare with their expectations.

A case is a directory under ``fixtures/`` holding ``case.json`` (the inputs:
a page, answers, maybe messages) and ``expected.json`` (each stage's expected
output).  No network: the saved bytes go straight into the pure stages.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from stages.aipkit_events import collect_extras
from stages.boxes import choose_box, extract_page
from stages.errors import BotNotFoundError, ChatGptEsError, QuotaExceededError, StreamInterruptedError
from stages.fetch import check_page, decode_page
from stages.models import AnswerHead, ChatBox, Conversation, FollowUp, NewNonce, Page, Stamp, Text
from stages.parse import feed, finish, start_parse
from stages.payload import PROTOCOLS, build_payload
from stages.prompt import format_prompt

#: where ``regress`` and ``record`` look when given no folder: ``./fixtures`` of the current folder
LOCAL_FIXTURES = Path("fixtures")


@attrs.frozen
class Mismatch:
    case: str
    stage: str
    diff: str


def find_cases(root: Path) -> list[Path]:
    """Every case directory at or below ``root`` (a directory holding ``case.json``), sorted."""
    if (root / "case.json").is_file():
        return [root]
    return sorted(path.parent for path in root.rglob("case.json"))


def box_facts(box: ChatBox) -> dict[str, Any]:
    """The extract stage's output in the fixtures' expectation format."""
    return {
        "protocol": box.protocol,
        "markup": box.markup,
        "nonce": {"value": box.nonce.value, "rule": box.nonce.rule},
        "post_id": {"value": box.post_id.value, "rule": box.post_id.rule},
        "page_url": box.page_url,
        "bot_id": box.bot_id,
        "box_type": box.box_type,
        "stream": box.stream,
        "ajax_url": box.ajax_url,
        "containers": box.containers,
        **({"boxes": [{"id": b.bot_id, "name": b.name, "protocol": b.protocol} for b in box.boxes]}
           if box.containers > 1 else {}),
        **({"conversation_state": True} if box.conversation_state else {}),
    }


def parse_bytes(protocol: str, purpose: str, head: AnswerHead, chunks: Iterator[bytes] | list[bytes], *,
                with_message: bool = False) -> dict[str, Any]:
    """Run the parse stage over saved bytes; what it yielded and how it ended (``with_message``: the error's
    text too, for people; fixtures' expectations keep only its type)."""
    state = start_parse(PROTOCOLS[protocol], purpose, head)
    texts: list[str] = []
    follow_up: str | None = None
    result: dict[str, Any] = {"chunks": texts, "follow_up": None, "error": None}
    outcomes: list[Any] = []
    for chunk in [*chunks, None]:
        state, decided = feed(state, chunk) if chunk is not None else finish(state)
        outcomes.extend(decided)
        texts.extend(o.text for o in decided if isinstance(o, Text))
        if state.failure is not None:
            break
    follow_up = next((o.cache_key for o in outcomes if isinstance(o, FollowUp)), None)
    error = state.failure
    if error is not None:
        result["error"] = type(error).__name__
        if with_message:
            result["message"] = str(error)
        if isinstance(error, StreamInterruptedError):
            result["partial_text"] = error.partial_text or "".join(texts)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            result["retry_after"] = retry_after
    extras = collect_extras(outcomes)
    if extras.citations:
        result["citations"] = list(extras.citations)
    if extras.response_id:
        result["response_id"] = extras.response_id
    if extras.warnings:
        result["warnings"] = list(extras.warnings)
    if isinstance(error, QuotaExceededError):
        result["quota"] = {"message": error.quota_message, "actions": [dict(a) for a in error.actions]}
    result["follow_up"] = {"cache_key": follow_up} if follow_up else None
    new_nonce = next((o.nonce for o in outcomes if isinstance(o, NewNonce)), None)
    if new_nonce is not None:
        result["new_nonce"] = new_nonce
    return result


def choose_facts(box: ChatBox, bot: str) -> dict[str, Any]:
    """The choose stage for bot ``bot``: the chosen box's protocol, bot and nonce, or the error with the ids found."""
    try:
        chosen = choose_box(box, bot)
    except BotNotFoundError as error:
        return {"error": type(error).__name__, "available": list(error.available)}
    return {"protocol": chosen.protocol, "bot_id": chosen.bot_id, "name": chosen.name,
            "nonce": chosen.nonce.value, "post_id": chosen.post_id.value}


def _purpose(answer: dict[str, Any]) -> str:
    if "purpose" in answer:
        return str(answer["purpose"])
    if answer.get("protocol") != "aipkit":
        return "message"
    return "stream" if "event-stream" in answer.get("headers", {}).get("content-type", "") else "cache"


def replay(case_dir: Path) -> dict[str, Any]:
    """Each stage's actual output for the case's saved inputs, in the expectation format."""
    case = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    actual: dict[str, Any] = {}
    box: ChatBox | None = None
    prompt = None
    if "messages" in case:
        try:
            prompt = format_prompt(case["messages"], case.get("system_prompt", ""), case.get("history", "auto"))
        except ChatGptEsError as error:
            actual["prompt"] = {"error": type(error).__name__}
        else:
            actual["prompt"] = {"text": prompt.text, "history_lines": list(prompt.history_lines),
                                **({"history": prompt.history} if prompt.turns else {}),
                                **({"images": len(prompt.images)} if prompt.images else {})}
    if "page" in case:
        spec = case["page"]
        raw = (case_dir / spec["file"]).read_bytes()
        headers = tuple((k, v) for k, v in spec.get("headers", {}).items())
        page = Page(spec.get("url", ""), spec.get("status", 200), headers,
                    decode_page(raw, dict(headers).get("content-type", "")))
        try:
            check_page(page)
        except ChatGptEsError as error:
            actual["fetch"] = {"error": type(error).__name__}
        else:
            box = extract_page(page)
            actual["extract"] = box_facts(box)
            if any(name.lower() == "link" for name, _ in headers):
                actual["discover"] = {"rest_root": box.rest_root}
            if "bot" in case:
                actual["choose"] = choose_facts(box, case["bot"])
                if "error" not in actual["choose"]:
                    box = choose_box(box, case["bot"])  # the payload is the chosen box's
    if "payload" in case and box is not None and prompt is not None:
        spec = case["payload"]
        conversation = Conversation(**spec["conversation"])
        try:
            request = build_payload(prompt, box, conversation, spec["endpoint"], Stamp(**spec["stamp"]),
                                    spec["site_url"])
        except ChatGptEsError as error:
            actual["payload"] = {"error": type(error).__name__}
        else:
            actual["payload"] = {"method": request.method, "url": request.url,
                                 "form": [list(f) for f in request.form]}
    if "answers" in case:
        parsed = []
        for answer in case["answers"]:
            raw = (case_dir / answer["file"]).read_bytes()
            headers = tuple((k, v) for k, v in answer.get("headers", {}).items())
            head = AnswerHead(answer.get("url", ""), answer.get("status", 200), headers)
            parsed.append(parse_bytes(answer.get("protocol", "legacy"), _purpose(answer), head, [raw]))
        actual["parse"] = parsed
    return actual


def compare(case_dir: Path, root: Path | None = None) -> list[Mismatch]:
    """One :class:`Mismatch` per stage whose replayed output differs from ``expected.json``."""
    name = str(case_dir.relative_to(root)) if root and case_dir != root else case_dir.name
    expected = json.loads((case_dir / "expected.json").read_text(encoding="utf-8"))
    try:
        actual = replay(case_dir)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return [Mismatch(name, "case", f"the case cannot be replayed: {type(error).__name__}: {error}")]
    mismatches = []
    for stage in sorted(set(expected) | set(actual)):
        want, got = expected.get(stage), actual.get(stage)
        if want != got:
            mismatches.append(Mismatch(name, stage, _diff(want, got)))
    return mismatches


def _diff(want: Any, got: Any) -> str:
    a = json.dumps(want, indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    b = json.dumps(got, indent=1, ensure_ascii=False, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(a, b, "expected", "actual", lineterm="", n=1))
