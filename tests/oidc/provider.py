"""panva's oidc-provider (npm, `make test` installs it), run by the tests on a free port
from a configuration they write: a real provider, not a mock."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from joserfc.jwk import RSAKey

from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")
CLIENT_ID = "herald"
CLIENT_SECRET = "herald-client-secret-for-tests"

# The directory users the tests sign in as (see tests/oidc/conftest.py), by the
# provider's subject; the claims are what a portal's provider says of them.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada-sub": {"email": "ada@herald.example", "preferred_username": "ada",
                "name": "Ada Staff", "email_verified": True},
    "sam-sub": {"email": "sam@herald.example", "preferred_username": "sam",
                "name": "Sam Support", "email_verified": True},
    "uma-sub": {"email": "uma@herald.example", "preferred_username": "uma",
                "name": "Uma User", "email_verified": True},
    "ghost-sub": {"email": "ghost@nowhere.example", "preferred_username": "ghost",
                  "name": "Nobody Known", "email_verified": True},
}  # fmt: skip


def new_key(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return dict(key.as_dict(private=True))


class OidcProvider:
    def __init__(self, herald_url: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.herald_url = herald_url
        self.keys = [new_key("key-1")]
        self.folder = Path(tempfile.mkdtemp(prefix="herald-oidc-"))
        self.process: subprocess.Popen[str] | None = None
        self.log = self.folder / "provider.log"

    def config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "port": self.port,
            "jwks": {"keys": self.keys},
            "accounts": ACCOUNTS,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [f"{self.herald_url}/api/session/oidc/callback/"],
                    "post_logout_redirect_uris": [f"{self.herald_url}/"],
                    "backchannel_logout_uri": (
                        f"{self.herald_url}/api/session/oidc/backchannel-logout/"
                    ),
                    "backchannel_logout_session_required": True,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            ],
        }

    def start(self) -> OidcProvider:
        path = self.folder / "config.json"
        path.write_text(json.dumps(self.config()))
        node = shutil.which("node") or "node"
        stream = self.log.open("a")
        self.process = subprocess.Popen(
            [node, str(SCRIPT), str(path)], cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while "listening" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OpenID provider did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        # The next start appends to the log: "listening" must be new.
        self.log.write_text("")

    def rotate_keys(self) -> None:
        """A new signing key (the old one gone), as a provider rotates them: restarted."""
        self.stop()
        self.keys = [new_key(f"key-{time.monotonic_ns()}")]
        self.start()
