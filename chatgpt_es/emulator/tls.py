"""HTTPS with a throw-away test CA (trustme): clients verify against ``Emulator.ca_file`` or fail."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def make_server_context(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1/localhost and the CA's PEM written into ``directory``."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = directory / "emulator-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file
