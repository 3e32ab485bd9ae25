"""``diagnose``: what a live site answers at each step, and what to try when it goes wrong."""

from __future__ import annotations

from chatgpt_es.runtime.client import Client, Site
from chatgpt_es.runtime.trace import Trace
from pipeline import ask
from stages.boxes import extract_page
from stages.errors import (
    ChatGptEsError,
    CloudflareChallengeError,
    ConsentRequiredError,
    EmbedNotAvailableError,
    EndpointRefusedError,
    NonceRejectedError,
    QuotaExceededError,
    RateLimitedError,
    RestApiDisabledError,
    SiteKeyRejectedError,
    TlsVerificationError,
    TransportError,
    UnknownActionError,
)
from stages.fetch import fetch_page
from stages.models import ChatBox
from stages.pagefacts import describe_page, lacks_chat_box

from .render import render_lines

ADVICE: dict[type[ChatGptEsError], str] = {
    CloudflareChallengeError: "Cloudflare shows a bot check. Try another --impersonate profile, or a --proxy "
                              "whose address Cloudflare trusts (a residential one); until then the page is unread.",
    RateLimitedError: "The site is rate limiting this address: wait the time it asks, send fewer messages, "
                      "or use another --proxy.",
    NonceRejectedError: "The site refused the nonce. If extraction fell back to defaults or to a seed rule, the nonce "
                        "is another plugin's: point --url at the page that shows the chat box.",
    UnknownActionError: "WordPress does not know the AJAX action: the site runs another plugin generation than the "
                        "page suggests, or the plugin is disabled.",
    ConsentRequiredError: "The site wants its consent checkbox ticked; it cannot be answered from this client.",
    EmbedNotAvailableError: "AIPKit refuses requests from another origin: keep --url on the site's own host.",
    TlsVerificationError: "The site's certificate does not verify: check the URL's host, or give its CA with "
                          "--ca-file (only for a site you control: --insecure turns verification off).",
    EndpointRefusedError: "The page names an endpoint on another site (or plain http from an https page): if that "
                          "host belongs to the site, allow it with --allow-endpoint-host HOST.",
    QuotaExceededError: "The site's guest quota is used up (or guests may not chat): wait for the next period, or "
                        "log in on the site as its own page asks.",
    SiteKeyRejectedError: "The site refused the REST API key: check --site-key against the one in the plugin's "
                          "settings.",
    RestApiDisabledError: "The site owner has not turned the REST API on: use the chat box (no --site-key).",
    TransportError: "The connection failed: check the URL, your network and --proxy; raise --connect-timeout.",
}


def advice_for(error: ChatGptEsError) -> str:
    for kind, text in ADVICE.items():
        if isinstance(error, kind):
            return text
    return "See the trace above for the stage that failed and what the site answered."


async def diagnose_site(client: Client, site: Site, message: str) -> tuple[list[str], bool]:
    """Findings as lines of text, and whether the site works."""
    findings = [f"site: {site.url}"]
    try:
        page = await fetch_page(client.session, site.url, client.settings.transport)
    except ChatGptEsError as error:
        findings += [f"✗ page: {type(error).__name__}: {error}", f"  → {advice_for(error)}"]
        return findings, False
    findings.append(f"✓ page: HTTP {page.status}, {len(page.text)} chars, {page.content_type}")
    box = extract_page(page)  # with the REST root the page advertises (for --site-key)
    if lacks_chat_box(box) and not site.api_key:
        # stop here: the seed's fallback values would only be refused, and each try may cost the site owner
        facts = describe_page(page, box)
        findings.append(f"✗ chat box: none this client can use; the page holds {facts.held}")
        findings.append(f"  nonce {box.nonce.value} by rule {box.nonce.rule}: not the chat box's (nothing sent)")
        findings.append(f"  → {facts.advice}")
        return findings, False
    findings.append(f"✓ chat box: {box.protocol} <{box.markup}>, {box.containers} on the page")
    findings.append(f"  nonce {box.nonce.value} by rule {box.nonce.rule}; post_id {box.post_id.value} "
                    f"by rule {box.post_id.rule}; endpoint {_endpoint(site, box, page.url, client)}")
    if box.used_defaults:
        findings.append("  ! the post id fell back to the seed's default value: the site may refuse it.")
    trace = Trace()
    client.remember(site, box, page.url)
    try:
        answer = "".join([chunk async for chunk in ask(client, site, [{"role": "user", "content": message}],
                                                       trace=trace)])
    except ChatGptEsError as error:
        findings += ["✗ message:"] + ["  " + line for line in render_lines(trace.records)]
        findings.append(f"  → {advice_for(error)}")
        return findings, False
    findings.append(f"✓ message: answered {len(answer)} chars: {answer[:80]!r}")
    return findings, True


def _endpoint(site: Site, box: ChatBox, page_url: str, client: Client) -> str:
    """The endpoint and the policy's rule (a refused one is shown, not raised: see stages.endpoint)."""
    decision = site.endpoint_decision(box, page_url, client.settings.transport.allow_endpoint_hosts)
    return f"{decision.endpoint} ({decision.rule}{'' if decision.allowed else ': REFUSED, ' + decision.reason})"
