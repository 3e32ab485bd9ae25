"""``record``: run a message against a site, stage by stage, and save it as a fixture case.

The stages are called one by one here (not through the orchestrator) because
the raw bytes of each answer are what a fixture keeps.  Secrets never reach
the files: cookies and proxy credentials are masked, and the nonce is
replaced by a stand-in, consistently in the page, the payload and the
expectations, so the case stays self-consistent.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import attrs

from chatgpt_es.runtime.client import Client, Site
from stages.boxes import choose_box
from stages.errors import ChatGptEsError, InvalidArgumentError, NoChatBoxError
from stages.extract import extract_chatbox
from stages.fetch import fetch_page
from stages.models import ChatBox, FollowUp, HttpRequest, Page, Prompt
from stages.pagefacts import describe_page, lacks_chat_box
from stages.payload import build_payload, new_conversation, new_stamp, protocol_for
from stages.prompt import format_prompt
from stages.redact import redact_headers, redact_url
from stages.send import send_request

from .regress import box_facts, choose_facts, compare, parse_bytes

STAND_IN_NONCE = "0n0nce0000"
KEPT_HEADERS = ("content-type", "retry-after", "cf-mitigated", "set-cookie", "cache-control")


def _headers(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    kept = {k.lower(): v for k, v in redact_headers(headers) if k.lower() in KEPT_HEADERS}
    return kept


async def record_case(client: Client, site: Site, message: str, target: Path) -> Path:
    """Record into a staging folder; only a case that replays is moved into ``target``.

    A page without a chat box is refused before any message is sent: its case could not replay (the
    fallback values are refused) and would teach regress nothing.
    """
    transport = client.settings.transport
    if site.api_key:  # a case holds every request it replays; the site key must never be in one
        raise InvalidArgumentError("record does not record REST API exchanges: the site key would be in the case")
    messages = [{"role": "user", "content": message}]
    prompt = format_prompt(messages, site.system_prompt)
    page = await fetch_page(client.session, site.url, transport)
    box = extract_chatbox(page.text)
    if lacks_chat_box(box):
        facts = describe_page(page, box)
        raise NoChatBoxError(f"not recording: the page {redact_url(site.url)} has no AI Power chat box (it holds "
                             f"{facts.held}), so a case made from it could not replay. {facts.advice}",
                             page=site.url, held=facts.held, advice=facts.advice)
    box = choose_box(box, site.bot_id)
    staging = Path(tempfile.mkdtemp(prefix="chatgpt-es-record-"))
    try:
        await _record_into(client, site, messages, prompt, page, box, staging, message)
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.iterdir()):
            shutil.move(path, target / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


async def _record_into(client: Client, site: Site, messages: list[dict[str, str]], prompt: Prompt, page: Page,
                       box: ChatBox, target: Path, message: str) -> Path:
    transport = client.settings.transport
    nonce = box.nonce.value
    conversation = new_conversation()
    stamp = new_stamp()
    endpoint = site.endpoint_for(box, page.url, transport.allow_endpoint_hosts)
    # as the pipeline does: the page's URL after its redirects is what the payload and Referer/Origin name
    request: HttpRequest | None = build_payload(prompt, box, conversation, endpoint, stamp, page.url)
    protocol = protocol_for(box)
    answers: list[dict[str, Any]] = []
    parsed: list[dict[str, Any]] = []
    while request is not None:
        answer = await send_request(client.session, request, page.url, transport, new_stamp())
        body = await answer.read(transport.max_answer_bytes)
        result = parse_bytes(protocol.name, request.purpose, answer.head, [body])
        name = f"answer-{len(answers) + 1}.{_extension(answer.head.content_type)}"
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(body.replace(nonce.encode(), STAND_IN_NONCE.encode()))
        answers.append({"file": name, "protocol": protocol.name, "purpose": request.purpose,
                        "status": answer.head.status, "headers": _headers(answer.head.headers)})
        parsed.append(result)
        cache_key = (result.get("follow_up") or {}).get("cache_key")
        request = None
        if cache_key and protocol.follow_up is not None and not result["error"]:
            request = protocol.follow_up(FollowUp(cache_key), box, conversation, endpoint, new_stamp())
    target.mkdir(parents=True, exist_ok=True)
    (target / "page.html").write_text(page.text.replace(nonce, STAND_IN_NONCE), encoding="utf-8")
    safe_box = attrs.evolve(box, nonce=attrs.evolve(box.nonce, value=STAND_IN_NONCE))
    safe_endpoint, safe_site = redact_url(endpoint) or endpoint, redact_url(page.url) or page.url
    payload = build_payload(prompt, safe_box, conversation, safe_endpoint, stamp, safe_site)
    case = {
        "description": f"recorded from {safe_site} with the message {message!r}",
        "source": "chatgpt-es record",
        "page": {"file": "page.html", "url": redact_url(page.url), "status": page.status,
                 "headers": _headers(page.headers)},
        "messages": messages,
        "system_prompt": site.system_prompt,
        "payload": {"conversation": attrs.asdict(conversation), "stamp": attrs.asdict(stamp),
                    "endpoint": safe_endpoint, "site_url": safe_site},
        "answers": answers,
        **({"bot": site.bot_id} if site.bot_id is not None else {}),
    }
    expected = {
        "prompt": {"text": prompt.text, "history_lines": list(prompt.history_lines)},
        "extract": box_facts(extract_chatbox(page.text.replace(nonce, STAND_IN_NONCE))),
        **({"choose": choose_facts(extract_chatbox(page.text.replace(nonce, STAND_IN_NONCE)), site.bot_id)}
           if site.bot_id is not None else {}),
        "payload": {"method": payload.method, "url": payload.url, "form": [list(f) for f in payload.form]},
        "parse": [json.loads(json.dumps(p).replace(nonce, STAND_IN_NONCE)) for p in parsed],
    }
    _dump(target / "case.json", case)
    _dump(target / "expected.json", expected)
    problems = compare(target)
    if problems:
        raise ChatGptEsError("not saved: the recorded case does not replay at stage(s) "
                             + ", ".join(p.stage for p in problems))
    return target


def _extension(content_type: str) -> str:
    if "event-stream" in content_type:
        return "sse"
    return "json" if "json" in content_type else "txt"


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
