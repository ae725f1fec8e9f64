"""A real mail system for the bounce tests: Debian's Postfix and Dovecot, each run
from a configuration written here, on free ports, in a folder of their own.

- Postfix takes mail over SMTP from 127.0.0.1. It is the final destination of
  two test domains: `dead.test`, whose only mailboxes are `alive0…alive99@dead.test`
  (every other address is accepted at RCPT time and then bounced with a real
  RFC 3464 report, as a relay that cannot check mailboxes up front does), and
  `herald.test`, where b1…b500 each have a Maildir of their own
  (`b7+tag@herald.test` lands in `b7`). So each test picks its own bounce
  address and reads its own bounces, whatever the other tests do.
- Dovecot serves those Maildirs over IMAP (plain with STARTTLS, and implicit
  TLS) to any user name with one password, from a certificate made by openssl.

`make test` installs both packages (`make mailservers`); the tests need root,
as everything on these machines runs.
"""

from __future__ import annotations

import contextlib
import imaplib
import itertools
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.smtp_sink import free_port

PASSWORD = "b0unce:p@ss/w?rd"  # needs percent-encoding in a URL, as an operator's might
NOBODY = 65534  # owner of the Maildirs: Postfix's virtual(8) refuses to deliver as root
_names = itertools.count(1)

MASTER_CF = """\
{smtp_port} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
virtual   unix  - n n -    - virtual
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.herald.test
mydomain = herald.test
myorigin = herald.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
# Accept every address at RCPT time and bounce the unknown ones afterwards.
smtpd_reject_unlisted_recipient = no
virtual_mailbox_domains = dead.test, herald.test
virtual_mailbox_maps = texthash:{root}/conf/mailboxes
virtual_mailbox_base = {root}/mail
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{uid}
recipient_delimiter = +
smtp_dns_support_level = disabled
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
alias_maps =
alias_database =
smtputf8_enable = no
biff = no
"""

MAILBOXES = 500  # bounce mailboxes b1..b500@herald.test, one per test that asks


def _mailbox_map() -> str:
    """`b7+anything@herald.test` -> Maildir b7/ (virtual(8) also tries the address
    without its extension); `alive…@dead.test` -> alive/; nobody else at dead.test.
    Written whole before Postfix starts: virtual(8) refuses regexp substitutions."""
    lines = [f"b{n}@herald.test b{n}/" for n in range(1, MAILBOXES + 1)]
    lines += [f"alive{n}@dead.test alive/" for n in range(100)]
    return "\n".join(lines) + "\n"


DOVECOT_CONF = """\
base_dir = {root}/dovecot-run
state_dir = {root}/dovecot-run/state
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/tls/cert.pem
ssl_key = <{root}/tls/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{root}/mail/%n
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={root}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _wait_for_port(port: int, what: str, log: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    text = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not listen on port {port}:\n{text}")


@dataclass
class MailServers:
    root: Path
    smtp_port: int
    imap_port: int
    imaps_port: int

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.smtp_port}"

    @property
    def cafile(self) -> Path:
        return self.root / "tls" / "cert.pem"

    def new_mailbox(self) -> str:
        """A bounce address of this test's own: `bN@herald.test`, read as user `bN`."""
        return f"b{next(_names)}@herald.test"

    def imap_url(self, bounce_address: str, *, security: str = "plain", password: str = PASSWORD,
                 folder: str = "INBOX") -> str:  # fmt: skip
        user = bounce_address.partition("@")[0]
        secret = quote(password, safe="")
        if security == "tls":
            return (
                f"imaps://{user}:{secret}@localhost:{self.imaps_port}/{folder}?cafile={self.cafile}"
            )
        if security == "starttls":
            return (f"imap://{user}:{secret}@localhost:{self.imap_port}/{folder}"
                    f"?starttls=1&cafile={self.cafile}")  # fmt: skip
        return f"imap://{user}:{secret}@127.0.0.1:{self.imap_port}/{folder}"

    def imap(self, bounce_address: str) -> imaplib.IMAP4:
        """A session of the test's own with that mailbox (to look, never to judge)."""
        client = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        client.login(bounce_address.partition("@")[0], PASSWORD)
        return client

    def count(self, bounce_address: str, folder: str = "INBOX") -> int:
        client = self.imap(bounce_address)
        try:
            kind, data = client.select(f'"{folder}"', readonly=True)
            return int(data[0]) if kind == "OK" and data and data[0] else 0
        finally:
            client.logout()

    def wait_for(self, bounce_address: str, count: int, seconds: float = 30.0) -> int:
        """Wait until the mailbox holds `count` messages; returns how many it holds."""
        deadline = time.monotonic() + seconds
        held = 0
        while time.monotonic() < deadline:
            held = self.count(bounce_address)
            if held >= count:
                return held
            time.sleep(0.2)
        return held

    def append(self, bounce_address: str, messages: list[bytes]) -> None:
        """Put messages straight into the mailbox (IMAP APPEND), as other mail arrives."""
        client = self.imap(bounce_address)
        try:
            client.create('"INBOX"')
            for raw in messages:
                client.append('"INBOX"', None, None, raw)
        finally:
            client.logout()

    def folders(self, bounce_address: str) -> list[str]:
        client = self.imap(bounce_address)
        try:
            _kind, data = client.list()
            return [item.decode().rsplit(' "/" ', 1)[-1].strip('"') for item in data if item]
        finally:
            client.logout()

    def delivered_to_alive(self) -> int:
        folder = self.root / "mail" / "alive" / "new"
        return len(list(folder.iterdir())) if folder.exists() else 0

    def stop(self) -> None:
        conf = self.root / "conf"
        subprocess.run(["postfix", "-c", str(conf), "stop"], capture_output=True, timeout=30)
        pid_file = self.root / "dovecot-run" / "master.pid"
        if pid_file.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)

    def stop_imap(self) -> None:
        """Dovecot alone goes down (the IMAP-server-down failure path)."""
        pid_file = self.root / "dovecot-run" / "master.pid"
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def start_imap(self) -> None:
        # Its output to a file: the daemon keeps its standard streams open.
        with (self.root / "dovecot.out").open("ab") as output:
            subprocess.run(["dovecot", "-c", str(self.root / "dovecot.conf")], check=True,
                           stdout=output, stderr=output, timeout=30)  # fmt: skip
        _wait_for_port(self.imap_port, "Dovecot", self.root / "dovecot.log")


def _certificate(folder: Path) -> None:
    folder.mkdir(parents=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
        check=True, capture_output=True,
    )  # fmt: skip


def start_mail_servers(root: Path) -> MailServers:
    for program in ("postfix", "dovecot"):
        if shutil.which(program) is None:
            raise RuntimeError(
                f"{program} is not installed: `make mailservers` installs Debian's postfix and "
                "dovecot-imapd (make test does it)"
            )
    servers = MailServers(root, free_port(), free_port(), free_port())
    for name in ("conf", "queue", "data", "mail", "home", "dovecot-run"):
        (root / name).mkdir(parents=True, exist_ok=True)
    shutil.chown(root / "data", "postfix")
    for name in ("mail", "home"):
        os.chown(root / name, NOBODY, NOBODY)
    _certificate(root / "tls")
    (root / "conf" / "main.cf").write_text(MAIN_CF.format(root=root, uid=NOBODY))
    (root / "conf" / "master.cf").write_text(MASTER_CF.format(smtp_port=servers.smtp_port))
    (root / "conf" / "mailboxes").write_text(_mailbox_map())
    (root / "dovecot.conf").write_text(
        DOVECOT_CONF.format(
            root=root, uid=NOBODY, password=PASSWORD,
            imap_port=servers.imap_port, imaps_port=servers.imaps_port,
        )
    )  # fmt: skip
    started = subprocess.run(["postfix", "-c", str(root / "conf"), "start"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    if started.returncode != 0:
        raise RuntimeError(f"postfix did not start: {started.stderr or started.stdout}")
    _wait_for_port(servers.smtp_port, "Postfix", root / "maillog")
    servers.start_imap()
    return servers


def tls_context(servers: MailServers) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(servers.cafile))


def running() -> Iterator[MailServers]:
    """The servers for a test session, in a folder their own users can reach (pytest's
    temporary folders are private to root; Postfix runs as `postfix`, Dovecot's
    mail processes as nobody)."""
    root = Path(tempfile.mkdtemp(prefix="herald-mail-"))
    root.chmod(0o755)
    servers = start_mail_servers(root)
    try:
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(root, ignore_errors=True)
