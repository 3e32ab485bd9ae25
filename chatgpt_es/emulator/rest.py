"""The plugin's public REST chat route, ``POST aipkit/v1/chat/{bot_id}/message`` (PROTOCOL-aipkit-additions §1).

Checks run in WordPress's order (§1.5): route and method, JSON body, required args, the schema of
``messages`` — all before the key — then the key (403 when the API is off, 401 for a wrong key), then
the plugin's own checks, then the bot (an unknown id is the plugin's PHP fatal error, a 500).  Reachable
as ``/wp-json/…`` (pretty permalinks only) and ``/?rest_route=/…`` (always).
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

from aiohttp import web

from chatgpt_es.emulator.php import json_encode
from chatgpt_es.emulator.state import Emulator
from chatgpt_es.emulator.wire import Headers, Reply

ROUTE = re.compile(r"/aipkit/v1/chat/(?P<bot>[^/]+)/message/?")
FATAL = ('<p>There has been a critical error on this website.</p><p><a href="https://wordpress.org/support/article/'
         'faq-troubleshooting/">Learn more about troubleshooting WordPress.</a></p>')
MODEL = "gpt-4o-mini"


def rest_path(request: web.Request, plain_permalinks: bool) -> str | None:
    """The REST route a request asks for, or None when it is no REST request."""
    if "rest_route" in request.query and request.path in ("/", "/index.php"):
        return request.query["rest_route"]
    if request.path.startswith("/wp-json/") and not plain_permalinks:
        return request.path[len("/wp-json"):]
    return None


def _headers(base_url: str, plain: bool) -> Headers:
    root = f"{base_url}/index.php?rest_route=/" if plain else f"{base_url}/wp-json/"
    return (
        ("X-Powered-By", "PHP/8.2.36"), ("Content-Type", "application/json; charset=UTF-8"),
        ("X-Robots-Tag", "noindex"), ("Link", f'<{root}>; rel="https://api.w.org/"'),
        ("X-Content-Type-Options", "nosniff"),
        ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
        ("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"),
        ("Allow", "POST"),
    )


def _error(emu: Emulator, status: int, code: str, message: str, outcome: str, **data: Any) -> Reply:
    body = {"code": code, "message": message, "data": {"status": status, **data}}
    if code == "internal_server_error":
        body["additional_errors"] = []
    return Reply(status, _headers(emu.base_url, emu.config.plain_permalinks), json_encode(body).encode(), outcome)


def _schema_error(messages: Any) -> str | None:
    """WordPress core's validation of the declared ``messages`` schema (before any key check)."""
    items = [messages] if isinstance(messages, str) else messages
    if not isinstance(items, list):
        return "messages is not of type array."
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return f"messages[{index}] is not of type object."
        for key in ("role", "content"):
            if key not in item:
                return f"{key} is a required property of messages[{index}]."
        if item["role"] not in ("user", "assistant"):
            return f"messages[{index}][role] is not one of user and assistant."
        if not isinstance(item["content"], str):
            return f"messages[{index}][content] is not of type string."
    return None


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _params(request: web.Request) -> dict[str, Any] | None:
    """The request's parameters: query, then JSON or form body; None for a body that is not JSON."""
    params: dict[str, Any] = {k: v for k, v in request.query.items() if k != "rest_route"}
    raw = await request.read()
    if "json" in request.headers.get("Content-Type", "") and raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            return None
        if isinstance(body, dict):
            params.update(body)
    return params


def _authorized(emu: Emulator, request: web.Request, params: dict[str, Any]) -> Reply | None:
    key = emu.config.rest_key
    if not key:
        return _error(emu, 403, "rest_aipkit_api_access_disabled", "REST API access is disabled.", "rest_disabled")
    for given in (_bearer(request), str(params.get("aipkit_api_key") or "")):
        if given and hmac.compare_digest(given, key):
            return None
    return _error(emu, 401, "rest_aipkit_invalid_api_key", "Invalid or missing API Key.", "rest_bad_key")


async def handle_rest(emu: Emulator, request: web.Request, route: str) -> Reply:
    match = ROUTE.fullmatch(route)
    if match is None or request.method != "POST":
        return _error(emu, 404, "rest_no_route", "No route was found matching the URL and request method.",
                      "rest_no_route")
    params = await _params(request)
    if params is None:
        return _error(emu, 400, "rest_invalid_json", "Invalid JSON body passed.", "rest_bad_json",
                      json_error_code=4, json_error_message="Syntax error")
    if "messages" not in params:
        return _error(emu, 400, "rest_missing_callback_param", "Missing parameter(s): messages", "rest_bad_messages",
                      params=["messages"])
    problem = _schema_error(params["messages"])
    if problem is not None:
        return _error(emu, 400, "rest_invalid_param", "Invalid parameter(s): messages", "rest_bad_messages",
                      params={"messages": problem})
    refused = _authorized(emu, request, params)
    if refused is not None:
        return refused
    messages: list[dict[str, str]] = params["messages"]
    if not messages:
        return _error(emu, 400, "rest_aipkit_invalid_messages", 'The "messages" parameter must be a non-empty array.',
                      "rest_bad_messages")
    if messages[-1]["role"] != "user" or not messages[-1]["content"].strip():
        return _error(emu, 400, "rest_aipkit_invalid_last_message",
                      'The last message in the array must be from the "user" role and have content.',
                      "rest_bad_messages")
    bot = match.group("bot")
    if not bot.isdigit() or int(bot) not in emu.bot_ids:
        return _error(emu, 500, "internal_server_error", FATAL, "rest_fatal")
    upstream = [{"role": "system", "content": "You are a helpful AI Assistant."}]
    upstream += [m for m in messages if m["content"]]
    emu.last_rest = upstream
    roles = ",".join(m["role"] for m in upstream)
    reply = f"Echo: {messages[-1]['content']} [{len(upstream)} msgs: {roles}]"
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
             "provider_raw": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    body = {"reply": reply, "usage": usage, "bot_id": int(bot), "model": MODEL}
    return Reply(200, _headers(emu.base_url, emu.config.plain_permalinks), json_encode(body).encode(), "rest_reply")
