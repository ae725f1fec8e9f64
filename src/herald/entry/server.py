"""`herald serve`: a supervisor, N server processes sharing one port, one delivery process.

Each server process binds its own socket with SO_REUSEPORT, so the kernel
spreads new connections across the processes. (With one inherited listening
socket, as uvicorn's own --workers does, whichever process wakes first
accepts a whole burst of connections: measured with 8 keep-alive clients,
one process served all of them while the other sat idle.)

The supervisor checks first that the configuration can work (the SMTP URL,
the database and its schema, the port) and stops with one line if not,
before anything is served. Then it watches its children: one that exits is
restarted with back-off and a log line, so a killed delivery process does
not leave `send` answering 200 while no mail leaves.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import uvicorn

from herald.core.config import Settings
from herald.entry.preflight import ConfigurationError, check_configuration

APP = "herald.entry.app:app_factory"
RESTART_FIRST, RESTART_MAX = 1.0, 30.0  # seconds: back-off between restarts of one child
HEALTHY_AFTER = 60.0  # seconds a child must live for its back-off to start again from the first
STOP_DELIVERY_WITHIN = 60.0  # seconds the delivery process has to finish what is on the wire

logger = logging.getLogger("herald.serve")


def _bind(host: str, port: int, reuse_port: bool, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """Make sure no other program holds the port, then hold it for serve's own processes.

    The first bind is without SO_REUSEPORT, so it fails if anything at all is
    bound there, even another program that set SO_REUSEPORT itself (which
    would otherwise silently share our connections). The reservation that
    follows is bound with SO_REUSEPORT but never listens: it is never handed
    a connection, and it keeps the port ours while children restart."""
    try:
        _bind(host, port, reuse_port=False, listen=False).close()
        return _bind(host, port, reuse_port=True, listen=False)
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; another program holds it "
            "(or the address is not this machine's): stop it or choose --port"
        ) from exc


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    with_delivery: bool = True
    access_log: bool = False
    forwarded_allow_ips: str | None = None  # proxies whose X-Forwarded-* headers count


def _config(options: ServeOptions) -> uvicorn.Config:
    # Imported here, in the child: it registers metrics, which must happen
    # after the supervisor has set PROMETHEUS_MULTIPROC_DIR.
    from herald.entry.http_protocol import with_header_timeout

    # uvicorn's own access log is off: Herald logs requests itself (with their
    # duration, never a header), when asked to, in the configured format.
    return uvicorn.Config(
        APP,
        factory=True,
        host=options.host,
        port=options.port,
        access_log=False,
        log_config=None,
        proxy_headers=options.forwarded_allow_ips is not None,
        forwarded_allow_ips=options.forwarded_allow_ips,
        timeout_keep_alive=5,
        # A client that sends its headers slowly is dropped, not waited for.
        http=with_header_timeout(Settings().header_timeout),
    )


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child if the supervisor dies without cleaning
    up (SIGKILL, OOM): a delivery process must not outlive its `herald serve`."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1  # noqa: N806 (the kernel's name)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:
            # The supervisor died before the request above was in place.
            raise SystemExit(0)


def _serve_one(options: ServeOptions) -> None:
    from herald.entry.logs import configure_logging

    _die_with_parent()
    configure_logging(Settings())
    sock = _bind(options.host, options.port, reuse_port=True)
    uvicorn.Server(_config(options)).run(sockets=[sock])


def _delivery_child() -> None:
    from herald.entry.worker_process import main

    _die_with_parent()
    main()


@dataclass
class Child:
    """One supervised process and what it takes to start it again."""

    name: str
    target: Callable[..., None]
    args: tuple[Any, ...] = ()
    process: BaseProcess | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start: float = 0.0  # monotonic time of the pending restart, when one is pending
    backoff: float = field(default=RESTART_FIRST)


def forget_process_metrics(pid: int | None) -> None:
    """Drop a dead child's live gauges from the shared metrics (its counters stay)."""
    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


class Supervisor:
    """Starts its children, restarts any that exits, stops them all on SIGTERM/SIGINT."""

    def __init__(self, context: multiprocessing.context.SpawnContext) -> None:
        self.context = context
        self.servers: list[Child] = []
        self.delivery: Child | None = None
        self.stopping = threading.Event()

    def start(self, child: Child) -> None:
        child.process = self.context.Process(target=child.target, args=child.args, name=child.name)
        child.process.start()
        child.started_at = time.monotonic()
        child.next_start = 0.0
        logger.info("%s started (pid %s)", child.name, child.process.pid)

    def children(self) -> list[Child]:
        return self.servers + ([self.delivery] if self.delivery else [])

    def watch_once(self) -> None:
        """Restart what has exited, after its back-off; log each death and restart."""
        now = time.monotonic()
        for child in self.children():
            process = child.process
            if process is None or process.is_alive():
                continue
            if child.next_start == 0.0:
                process.join()  # reap it: no zombie
                forget_process_metrics(process.pid)
                if now - child.started_at >= HEALTHY_AFTER:
                    child.backoff = RESTART_FIRST
                child.next_start = now + child.backoff
                logger.error(
                    "%s (pid %s) exited with status %s; restarting it in %.0f s",
                    child.name,
                    process.pid,
                    process.exitcode,
                    child.backoff,
                )
                child.backoff = min(RESTART_MAX, child.backoff * 2)
            elif now >= child.next_start and not self.stopping.is_set():
                child.restarts += 1
                logger.warning("restarting %s (restart %d)", child.name, child.restarts)
                self.start(child)

    def run(self) -> None:
        for child in self.children():
            self.start(child)

        def stop(signum: int, _frame: FrameType | None) -> None:
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not self.stopping.wait(0.2):
            self.watch_once()
        self.stop_all()

    def stop_all(self) -> None:
        # Servers first, so nothing new is queued; then the delivery process,
        # which finishes the mails on the wire and records every outcome.
        for group, within in (
            (self.servers, 10.0),
            ([self.delivery] if self.delivery else [], STOP_DELIVERY_WITHIN),
        ):
            running = [c.process for c in group if c.process is not None and c.process.is_alive()]
            for process in running:
                process.terminate()
            deadline = time.monotonic() + within
            for process in running:
                process.join(timeout=max(0.0, deadline - time.monotonic()))
                if process.is_alive():
                    logger.error("%s did not stop in time; killing it", process.name)
                    process.kill()
                    process.join()


def serve(options: ServeOptions) -> None:
    """Serve with `options.workers` processes, plus one delivery process unless told
    not to (one for the whole server, never one per server process).

    Raises ConfigurationError, before starting anything, when the
    configuration cannot work."""
    settings = Settings()
    check_configuration(settings)
    reservation = reserve_port(options.host, options.port)
    # Children read these when they start (spawned, they inherit the environment).
    metrics_dir = tempfile.mkdtemp(prefix="herald-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if options.access_log:
        os.environ["HERALD_ACCESS_LOG"] = "1"
    supervisor = Supervisor(multiprocessing.get_context("spawn"))
    # Even one server process runs as a child: this process keeps the signal
    # handling, so SIGTERM always reaches the code that stops the delivery
    # process (uvicorn in this process re-raised SIGTERM after its own
    # shutdown, which killed the supervisor and orphaned the delivery process).
    supervisor.servers = [
        Child(f"herald-server-{n}", _serve_one, (options,)) for n in range(max(1, options.workers))
    ]
    if options.with_delivery:
        supervisor.delivery = Child("herald-delivery", _delivery_child)
    print(
        f"Herald serving on http://{options.host}:{options.port} with "
        f"{len(supervisor.servers)} process(es)"
        + ("" if options.with_delivery else " and no delivery process (--no-worker)"),
        file=sys.stderr,
    )
    try:
        supervisor.run()
    finally:
        reservation.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
