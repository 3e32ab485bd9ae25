"""A client written for the real site — the seed's steps, done plainly — gets answers from the local site."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from curl_cffi import requests

SEED_NONCE_PATTERNS = [
    r'<input\s+type=[\'"]hidden[\'"]\s+name=[\'"]_wpnonce[\'"]\s+value=[\'"]([^\'"]+)[\'"]',
    r'"_wpnonce":"([^"]+)"',
    r'var\s+wpaicg_nonce\s*=\s*[\'"]([^\'"]+)[\'"]',
    r'wpaicg_nonce\s*:\s*[\'"]([^\'"]+)[\'"]',
    r'nonce[\'"]?\s*[=:]\s*[\'"]([a-zA-Z0-9]+)[\'"]',
]


def seed_style_ask(url: str, api_endpoint: str, prompt: str) -> Any:
    """What the seed describes: one session, GET the page, regex the nonce and post_id, POST, read JSON."""
    session: requests.Session[requests.Response] = requests.Session()
    session.headers.update({"referer": url, "origin": url, "accept": "*/*",
                            "content-type": "application/x-www-form-urlencoded; charset=UTF-8",
                            "x-requested-with": "XMLHttpRequest"})
    page = session.get(url, impersonate="chrome").text
    nonce = next((m.group(1) for p in SEED_NONCE_PATTERNS if (m := re.search(p, page))), "8cf9917be2")
    post_match = re.search(r'var\s+post_id\s*=\s*[\'"]?(\d+)[\'"]?', page)
    data = {"_wpnonce": nonce, "post_id": post_match.group(1) if post_match else "106", "url": url,
            "action": "wpaicg_chat_shortcode_message", "message": prompt, "bot_id": "0",
            "chatbot_identity": "shortcode", "wpaicg_chat_client_id": os.urandom(5).hex(),
            "wpaicg_chat_history": json.dumps([f"Human: {prompt}"])}
    response = session.post(api_endpoint, data=data, impersonate="chrome")
    assert response.status_code == 200, response.text
    return json.loads(response.content)


def test_a_seed_style_client_gets_answers_from_the_local_site(legacy_site: Any) -> None:
    base = legacy_site.base_url
    result = seed_style_ask(base + "/", base + "/wp-admin/admin-ajax.php", "Hello there")
    assert result["status"] == "success"
    assert result["data"] == "Echo: Hello there (after 1 earlier turns)"
    assert legacy_site.last_history == [("user", "Hello there")]
