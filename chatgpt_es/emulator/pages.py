"""HTML pages: the chat page of either generation, rendered from the real captures; Cloudflare's challenge.

The captures are served byte for byte except for what differs per site: the nonce, the site origin (plain,
JSON-escaped and URL-encoded) and the container attributes the configuration selects.
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from urllib.parse import quote, urlsplit

import attrs

from chatgpt_es.emulator.config import EmulatorConfig
from chatgpt_es.emulator.wire import Headers, Reply

#: the real captures the pages are rendered from, shipped in the package (``captures/``)
LEGACY_PAGE = "01-get-front-stream-off.html"
LEGACY_NONCE = "f2949d091c"
LEGACY_ORIGIN = "http://127.0.0.1:8080"
LEGACY_POST_ID = 4
AIPKIT_PAGE = "01-get-front-page.html"
AIPKIT_NONCE = "3d8063e3c6"
AIPKIT_ORIGIN = "http://127.0.0.1:8081"
AIPKIT_POST_ID = 6
AIPKIT_BOT_ID = 5


def _replace_once(html: str, old: str, new: str) -> str:
    if html.count(old) != 1:
        raise ValueError(f"page template: expected exactly one {old!r}")
    return html.replace(old, new)


def _replace_origin(html: str, old: str, new: str) -> str:
    for old_form, new_form in (
        (old, new),
        (old.replace("/", "\\/"), new.replace("/", "\\/")),
        (quote(old, safe=""), quote(new, safe="")),
    ):
        html = html.replace(old_form, new_form)
    return html


@attrs.frozen
class PageRenderer:
    """Holds the capture of the configured generation; ``render`` fills in one site's values."""

    config: EmulatorConfig
    template: str

    @classmethod
    def load(cls, config: EmulatorConfig) -> PageRenderer:
        relative = LEGACY_PAGE if config.generation == "legacy" else AIPKIT_PAGE
        return cls(config, (files("chatgpt_es.emulator") / "captures" / relative).read_text(encoding="utf-8"))

    def render(self, base_url: str, nonce: str) -> Reply:
        if self.config.generation == "aipkit":
            html = _replace_once(self.template, AIPKIT_NONCE, nonce)
            html = _replace_origin(html, AIPKIT_ORIGIN, base_url)
            html = html.replace(f'rel="https://api.w.org/" href="{base_url}/wp-json/"',
                                f'rel="https://api.w.org/" href="{self.rest_root(base_url)}"')
            html = self._aipkit_boxes(html)
            post_id = AIPKIT_POST_ID
        else:
            html = self._legacy(nonce)
            html = _replace_origin(html, LEGACY_ORIGIN, base_url)
            post_id = LEGACY_POST_ID
        headers: Headers = (
            ("Server", "nginx"),
            ("X-Powered-By", "PHP/8.2.36"),
            ("Content-Type", "text/html; charset=UTF-8"),
            ("Link", f'<{self.rest_root(base_url)}>; rel="https://api.w.org/"'),
            ("Link", f'<{base_url}/wp-json/wp/v2/pages/{post_id}>; rel="alternate"; type="application/json"'),
            ("Link", f"<{base_url}/>; rel=shortlink"),
        )
        return Reply(200, headers, html.encode(), "page")

    def _aipkit_boxes(self, html: str) -> str:
        """AIPKit pages with a second chat box: another bot (9) or the same bot again (captures 80, 81)."""
        if self.config.page not in ("two-bots", "same-bot-twice") and not self.config.conversation_state:
            return html
        start = html.index('<div class="aipkit_chat_container')
        tag = html[start:html.index("\n", start)]
        if self.config.conversation_state:
            on = tag.replace("enableOpenAIConversationState&quot;:false", "enableOpenAIConversationState&quot;:true")
            html, tag = html.replace(tag, on), on
        if self.config.page == "two-bots":
            second = (tag.replace('id="aipkit_chat_container_5" data-bot-id="5"',
                                  'id="aipkit_chat_container_9" data-bot-id="9"')
                      .replace("{&quot;botId&quot;:5,", "{&quot;botId&quot;:9,")
                      .replace("&quot;headerName&quot;:&quot;Local Test Bot&quot;",
                               "&quot;headerName&quot;:&quot;Stand Second Bot&quot;"))
        elif self.config.page == "same-bot-twice":
            second = tag
        else:
            return html
        return _replace_once(html, "</body>", f"{second}</div>\n</body>")

    def rest_root(self, base_url: str) -> str:
        return f"{base_url}/index.php?rest_route=/" if self.config.plain_permalinks else f"{base_url}/wp-json/"

    def _legacy(self, nonce: str) -> str:
        html = self.template
        if html.count(LEGACY_NONCE) != 2:  # data-nonce and wpaicgParams.search_nonce
            raise ValueError("legacy page template: expected the capture nonce twice")
        html = html.replace(LEGACY_NONCE, nonce)
        if self.config.stream:
            html = _replace_once(html, 'data-openai_stream_nav="0"', 'data-openai_stream_nav="1"')
        if self.config.page == "widget":
            html = _replace_once(
                html, '<div class="wpaicg-chat-shortcode"\n', '<div class="wpaicg-chatbox"\n'
            )
            html = _replace_once(html, '     data-type="shortcode"\n>', '     data-type="widget"\n>')
        elif self.config.page == "custom-bot":
            html = _replace_once(html, 'data-bot-id="0"', f'data-bot-id="{self.config.bot_id}"')
        elif self.config.page in ("two-bots", "same-bot-twice"):
            start = html.index('<div class="wpaicg-chat-shortcode"\n')
            tag = html[start:html.index('     data-type="shortcode"\n>', start) + len('     data-type="shortcode"\n>')]
            second = tag if self.config.page == "same-bot-twice" else tag.replace(
                'data-bot-id="0"', f'data-bot-id="{self.config.bot_id}"')
            html = _replace_once(html, "</body>", f"{second}</div>\n</body>")
        return html


_CHALLENGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>\
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-Compatible" \
content="IE=Edge"><meta name="robots" content="noindex,nofollow"><meta name="viewport" \
content="width=device-width,initial-scale=1"><style>*{{box-sizing:border-box;margin:0;padding:0}}\
html{{line-height:1.15;-webkit-text-size-adjust:100%;color:#313131;font-family:system-ui,-apple-system,\
BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial}}body{{display:flex;flex-direction:column;\
height:100vh;min-height:100vh}}.main-content{{margin:8rem auto;max-width:60rem;padding-left:1.5rem}}\
</style><meta http-equiv="refresh" content="390"></head><body class="no-js"><div class="main-wrapper" \
role="main"><div class="main-content"><h1 class="zone-name-title h1">{host}</h1><noscript><div \
id="challenge-error-title"><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies \
to continue</span></div></div></noscript><div id="challenge-running"><h2 class="h2" \
id="challenge-body-text">Verifying you are human. This may take a few seconds.</h2></div></div></div>\
<script>(function(){{window._cf_chl_opt={{cvId: '3',cZone: "{host}",cType: 'managed',cRay: '{ray}',\
cH: '{token}',cUPMDTk: "\\/?__cf_chl_tk={token}",cFPWv: 'g',cITimeS: '1795480000',cTplV: 5,\
cTplB: 'cf',cK: "",fa: "\\/?__cf_chl_f_tk={token}",md: '{token}',mdrd: '',cRq: {{ru: 'aHR0cDovLw==',\
ra: 'TW96aWxsYQ==',d: '',t: 'MTc5NTQ4MDAwMA==',cT: Math.floor(Date.now() / 1000),m: ''}}}};\
var cpo = document.createElement('script');cpo.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/\
chl_page/v1?ray={ray}';window._cf_chl_opt.cOgUHash = location.hash === '' && location.href.indexOf('#') \
!== -1 ? '#' : location.hash;document.getElementsByTagName('head')[0].appendChild(cpo);}}());</script>\
<div class="footer" role="contentinfo"><div class="footer-inner"><div class="clearfix diagnostic-wrapper">\
<div class="ray-id">Ray ID: <code>{ray}</code></div></div><div class="text-center" \
id="footer-text">Performance &amp; security by Cloudflare</div></div></div></body></html>"""


_CF_CACHE_CONTROL = "private, max-age=0, no-store, no-cache, must-revalidate, post-check=0, pre-check=0"


def challenge_reply(base_url: str) -> Reply:
    """Cloudflare's managed challenge ("Just a moment..."), as an HTTP client without a browser gets it."""
    ray = secrets.token_hex(8)
    host = urlsplit(base_url).hostname or "localhost"
    body = _CHALLENGE.format(host=host, ray=ray, token=secrets.token_urlsafe(32))
    headers: Headers = (
        ("Server", "cloudflare"),
        ("Content-Type", "text/html; charset=UTF-8"),
        ("cf-mitigated", "challenge"),
        ("Cache-Control", _CF_CACHE_CONTROL),
        ("Expires", "Thu, 01 Jan 1970 00:00:01 GMT"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Cross-Origin-Embedder-Policy", "require-corp"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Origin-Agent-Cluster", "?1"),
        ("CF-RAY", f"{ray}-MAD"),
    )
    return Reply(403, headers, body.encode(), "challenge")
