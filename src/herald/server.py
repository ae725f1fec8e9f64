"""`herald serve`: N server processes sharing one port.

Each process binds its own socket with SO_REUSEPORT, so the kernel spreads
new connections across the processes. (With one inherited listening socket,
as uvicorn's own --workers does, whichever process wakes first accepts a
whole burst of connections: measured with 8 keep-alive clients, one process
served all of them while the other sat idle.)
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

APP = "herald.app:app_factory"


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


def _config(host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(APP, factory=True, host=host, port=port, access_log=False)


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


def _serve_one(host: str, port: int) -> None:
    _die_with_parent()
    sock = _bind(host, port, reuse_port=True)
    uvicorn.Server(_config(host, port)).run(sockets=[sock])


def _delivery_child() -> None:
    from herald.delivery.process import main

    _die_with_parent()
    main()


def _start_delivery(context: multiprocessing.context.SpawnContext) -> BaseProcess:
    process = context.Process(target=_delivery_child, name="herald-delivery")
    process.start()
    return process


def serve(host: str, port: int, workers: int, with_delivery: bool = True) -> None:
    """Serve with `workers` processes, plus one delivery process unless told not to
    (one for the whole server, never one per server process)."""
    context = multiprocessing.get_context("spawn")
    delivery = _start_delivery(context) if with_delivery else None
    try:
        _serve(context, host, port, workers)
    finally:
        if delivery is not None and delivery.is_alive():
            delivery.terminate()  # SIGTERM: it finishes what is on the wire
            delivery.join(timeout=60)


def _serve(
    context: multiprocessing.context.SpawnContext, host: str, port: int, workers: int
) -> None:
    # Even one server process runs as a child: this process keeps the signal
    # handling, so SIGTERM always reaches the finally block that stops the
    # delivery process (uvicorn in this process re-raised SIGTERM after its own
    # shutdown, which killed the supervisor and orphaned the delivery process).
    # Bind (without listening, so it is never handed a connection) to fail
    # at once and plainly when the port is taken.
    probe = _bind(host, port, reuse_port=True, listen=False)
    processes = [
        context.Process(target=_serve_one, args=(host, port), name=f"herald-server-{n}")
        for n in range(max(1, workers))
    ]
    for process in processes:
        process.start()
    probe.close()
    print(
        f"Herald serving on http://{host}:{port} with {len(processes)} process(es)", file=sys.stderr
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive() and process.pid:
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
