"""The real-plugin stand (``../shared/real-plugin-stand``): bring it up and down, turn its knobs, and read
what its fake model received (``logs/fake-llm.jsonl``) and what its PHP servers served (``logs/php-PORT.log``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import attrs

ROOT = Path(__file__).resolve().parents[2]
STAND_SCRIPTS = Path(os.environ.get("REAL_PLUGIN_STAND", str(ROOT.parent / "shared" / "real-plugin-stand")))
#: seconds between the fake model's streamed pieces: long enough to see a stream arrive piece by piece
CHUNK_DELAY = 0.05
MODEL_PORT = 8090
PORTS = (8081, 8082, 8083, 8084, MODEL_PORT)
#: which WordPress code dir (and so which wp-config.php) serves each port
SITE_OF_PORT = {8081: "wp19", 8083: "wp19", 8084: "wp19", 8082: "wp24"}
DEFAULT_NONCE_SALT = "stand-nonce-salt-0001"
#: the 2.4.71 inline bot (``/chatbot/``)
INLINE_BOT = 6
Generation = Literal["legacy", "aipkit"]


@attrs.frozen
class StandPage:
    """One chat page of the stand."""

    name: str
    url: str
    generation: Generation
    streamed: bool

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    @property
    def site(self) -> str:
        return SITE_OF_PORT[self.port]


PAGES = (
    StandPage("1.9.11 JSON", "http://127.0.0.1:8081/chat/", "legacy", False),
    StandPage("1.9.11 stream", "http://127.0.0.1:8083/chat/", "legacy", True),
    StandPage("1.9.11 custom bot", "http://127.0.0.1:8081/custom-bot/", "legacy", False),
    StandPage("1.9.11 widget", "http://127.0.0.1:8084/widget/", "legacy", False),
    StandPage("2.4.71 inline", "http://127.0.0.1:8082/chatbot/", "aipkit", True),
    StandPage("2.4.71 popup", "http://127.0.0.1:8082/chatbot-popup/", "aipkit", True),
)
PAGE = {page.name: page for page in PAGES}


class StandError(RuntimeError):
    """The stand did not come up (or a knob could not be turned)."""


def unavailable_reason() -> str | None:
    """Why the stand cannot come up on this machine, or None when it can."""
    if not (STAND_SCRIPTS / "up.sh").is_file():
        return f"no stand scripts at {STAND_SCRIPTS} (set REAL_PLUGIN_STAND to the real-plugin-stand folder)"
    installed = (shutil.which("php") and shutil.which("mariadbd")
                 and Path("/usr/share/wordpress/wp-includes").is_dir())
    if installed:
        return None
    if os.geteuid() != 0:
        return "php8.2, mariadb-server and wordpress are not installed and only root may apt-get install them"
    if shutil.which("apt-get") is None:
        return "php8.2, mariadb-server and wordpress are not installed and there is no apt-get (Debian 12 needed)"
    return None


def busy_ports() -> list[int]:
    """The stand's fixed ports something already listens on (another stand, or anything else)."""
    busy = []
    for port in PORTS:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


def chat_messages(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) of every message one request to the fake model carried."""
    body = record.get("body") or {}
    return [(str(m.get("role")), str(m.get("content"))) for m in body.get("messages") or []]


class Stand:
    """A stand running out of ``folder`` (its STAND_DIR)."""

    def __init__(self, scripts: Path, folder: Path) -> None:
        self.scripts = scripts
        self.folder = folder

    def _env(self) -> dict[str, str]:
        return {**os.environ, "STAND_DIR": str(self.folder), "FAKE_LLM_CHUNK_DELAY": str(CHUNK_DELAY)}

    def up(self) -> None:
        """Start (and, the first time, build) what is not running; raises :class:`StandError` if it fails."""
        done = subprocess.run([str(self.scripts / "up.sh")], env=self._env(), capture_output=True, text=True,
                              timeout=1200, check=False)
        statuses = dict(re.findall(r"^(\d{4}) (\d{3})$", done.stdout, re.MULTILINE))
        if done.returncode != 0 or any(statuses.get(str(port)) != "200" for port in SITE_OF_PORT):
            tail = (done.stdout + done.stderr).strip().splitlines()[-8:]
            raise StandError(f"up.sh failed (exit {done.returncode}): " + " | ".join(tail))

    def down(self) -> None:
        subprocess.run([str(self.scripts / "down.sh")], env=self._env(), capture_output=True, timeout=120,
                       check=False)

    # -- what the fake model received ---------------------------------------------------------------

    @property
    def model_log(self) -> Path:
        return self.folder / "logs" / "fake-llm.jsonl"

    def model_mark(self) -> int:
        """How many requests the fake model has logged so far."""
        if not self.model_log.exists():
            return 0
        with self.model_log.open(encoding="utf-8") as log:
            return sum(1 for _ in log)

    def model_requests_since(self, mark: int) -> list[dict[str, Any]]:
        with self.model_log.open(encoding="utf-8") as log:
            lines = log.readlines()[mark:]
        return [json.loads(line) for line in lines]

    # -- what the PHP servers served ----------------------------------------------------------------

    def access_log(self, port: int) -> Path:
        return self.folder / "logs" / f"php-{port}.log"

    def access_mark(self, port: int) -> int:
        return len(self.access_log(port).read_text(encoding="utf-8", errors="replace").splitlines())

    def served_since(self, port: int, mark: int, request: str, settle: float = 0.5) -> int:
        """How many requests starting with ``request`` (e.g. ``"POST /wp-admin/admin-ajax.php"``) the PHP
        server of ``port`` logged since ``mark``; waits until its log stops growing (it writes after each answer)."""
        seen, last_change = -1, time.monotonic()
        while True:
            lines = self.access_log(port).read_text(encoding="utf-8", errors="replace").splitlines()[mark:]
            count = sum(1 for line in lines if re.search(r"\[\d{3}\]: " + re.escape(request), line))
            if count != seen:
                seen, last_change = count, time.monotonic()
            elif time.monotonic() - last_change >= settle:
                return count
            time.sleep(0.05)

    # -- knobs --------------------------------------------------------------------------------------

    def set_nonce_salt(self, site: str, value: str) -> None:
        """Change ``NONCE_SALT`` of ``site`` (``wp19``: every 1.9.11 port; ``wp24``); PHP reads it at once."""
        config = self.folder / "sites" / site / "wp-config.php"
        text, count = re.subn(r"define\('NONCE_SALT',\s*'[^']*'\);", f"define('NONCE_SALT', '{value}');",
                              config.read_text(encoding="utf-8"))
        if count != 1:
            raise StandError(f"NONCE_SALT not found in {config}")
        config.write_text(text, encoding="utf-8")

    def stop_model(self) -> None:
        """Stop the fake model by its PID and wait until its port refuses connections."""
        pid = int((self.folder / "run" / "fake-llm.pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        while MODEL_PORT in busy_ports():
            if time.monotonic() > deadline:
                raise StandError(f"the fake model (PID {pid}) did not stop")
            time.sleep(0.05)

    def start_model(self) -> None:
        """up.sh starts only what is not running: here, the fake model; then wait until it listens."""
        self.up()
        deadline = time.monotonic() + 10.0
        while MODEL_PORT not in busy_ports():
            if time.monotonic() > deadline:
                raise StandError("the fake model did not start again")
            time.sleep(0.05)

    # -- 2.4.71 settings (setup/set.php) ------------------------------------------------------------

    def wp24(self, *args: str) -> Any:
        """Run ``setup/set.php ARGS`` in the 2.4.71 site's folder; its JSON answer."""
        done = subprocess.run(["php", str(self.scripts / "setup" / "set.php"), *args],
                              cwd=self.folder / "sites" / "wp24", capture_output=True, text=True, timeout=60,
                              check=False)
        if done.returncode != 0:
            raise StandError(f"set.php {args[0]} failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    @contextmanager
    def bot_meta(self, bot: int, key: str, value: str) -> Iterator[None]:
        """Bot meta ``key`` set to ``value`` for the block, then back to what it was."""
        before = str(self.wp24("getmeta", str(bot), key)[key])
        self.wp24("meta", str(bot), key, value)
        try:
            yield
        finally:
            self.wp24("meta", str(bot), key, before)

    @contextmanager
    def rest_api(self, key: str, enabled: bool = True) -> Iterator[None]:
        """The owner's REST API with ``key`` stored, on (or off) for the block; then on or off as before (the key
        stays stored when it was off before, as the admin's "disable" leaves it)."""
        before = self.wp24("rest-state") or {}
        self.wp24("rest-enable", key)
        if not enabled:
            self.wp24("rest-disable")
        try:
            yield
        finally:
            if before.get("public_api_enabled") == "1" and before.get("public_api_key"):
                self.wp24("rest-enable", str(before["public_api_key"]))
            else:
                self.wp24("rest-disable")
