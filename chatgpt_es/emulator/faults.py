"""Reproducible fault injection (``fault_rate``/``fault_seed``) and the pages a broken site answers with."""

from __future__ import annotations

import random

from chatgpt_es.emulator.config import EmulatorConfig
from chatgpt_es.emulator.wire import Reply

# Faults that replace the answer before the site processes the request (no state changes).
REPLACING = ("500", "502", "429")
# Faults that let the site process the request and then damage the answer on the wire.
MUTILATING = ("drop", "truncate")

_WP_CRITICAL = """<!DOCTYPE html>
<html lang="en-US">
<head>
\t<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
\t<meta name="viewport" content="width=device-width">
\t<meta name='robots' content='max-image-preview:large, noindex, follow' />
\t<title>WordPress &rsaquo; Error</title>
\t<style type="text/css">
\t\thtml { background: #f1f1f1; }
\t\tbody { background: #fff; border: 1px solid #ccd0d4; color: #444; margin: 2em auto;
\t\t\tpadding: 1em 2em; max-width: 700px; font-family: -apple-system, sans-serif; }
\t</style>
</head>
<body id="error-page">
\t<div class="wp-die-message"><p>There has been a critical error on this website.</p>\
<p><a href="https://wordpress.org/documentation/article/faq-troubleshooting/">\
Learn more about troubleshooting WordPress.</a></p></div></body>
</html>
\t"""

_NGINX = (
    "<html>\r\n<head><title>{code}</title></head>\r\n<body>\r\n<center><h1>{code}</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_NGINX_HEADERS = (("Server", "nginx"), ("Content-Type", "text/html; charset=UTF-8"))


class FaultPicker:
    """Draws ``random.Random(seed)`` once per admin-ajax request, in request order."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.rate = config.fault_rate
        self.kinds = tuple(config.faults)
        self._rng = random.Random(config.fault_seed)

    def draw(self) -> str | None:
        if self.rate <= 0.0 or not self.kinds:
            return None
        if self._rng.random() >= self.rate:
            return None
        return self._rng.choice(self.kinds)


def fault_reply(kind: str, retry_after: int) -> Reply:
    """The answer for the replacing faults (500, 502, 429)."""
    if kind == "500":
        headers = (
            ("Server", "nginx"), ("X-Powered-By", "PHP/8.2.36"), ("Content-Type", "text/html; charset=UTF-8"),
        )
        return Reply(500, headers, _WP_CRITICAL.encode(), "fault_500")
    if kind == "502":
        return Reply(502, _NGINX_HEADERS, _NGINX.format(code="502 Bad Gateway").encode(), "fault_502")
    if kind == "429":
        headers = (*_NGINX_HEADERS, ("Retry-After", str(retry_after)))
        return Reply(429, headers, _NGINX.format(code="429 Too Many Requests").encode(), "fault_429")
    raise ValueError(f"{kind!r} is not a replacing fault")
