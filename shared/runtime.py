"""Running a service: its HTTP server and its background workers in one process, stopped cleanly on a signal."""

import gc
import logging
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask
from waitress import wasyncore  # type: ignore[import-untyped]
from waitress.server import create_server  # type: ignore[import-untyped]

from . import log_context

log = logging.getLogger(__name__)


class Worker(Protocol):
    def run_until_stopped(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ServiceRuntime:
    name: str
    app: Flask
    host: str
    port: int
    workers: list[Worker] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _server: Any = None  # waitress's server; waitress ships no type information
    _sockets: dict = field(default_factory=dict)
    _http_thread: threading.Thread | None = None

    def start(self) -> None:
        with log_context.bound(service=self.name):
            self._start()

    def _start(self) -> None:
        self._sockets = {}
        self._server = create_server(
            self.app, host=self.host, port=self.port, threads=8, ident=self.name, map=self._sockets
        )
        self.port = int(self._server.effective_port)
        self._http_thread = threading.Thread(
            target=log_context.as_service(self.name)(self._server.run), name=f"{self.name}-http", daemon=True
        )
        self._http_thread.start()
        for index, worker in enumerate(self.workers):
            self._spawn(f"{self.name}-{type(worker).__name__}-{index}", worker.run_until_stopped)
        log.info("%s listening on http://%s:%d", self.name, self.host, self.port)

    def _spawn(self, name: str, target) -> None:
        # Threads start with an empty context: each of ours says which service its lines belong to.
        thread = threading.Thread(target=log_context.as_service(self.name)(target), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        with log_context.bound(service=self.name):
            self._stop(timeout)

    def _stop(self, timeout: float) -> None:
        for worker in self.workers:
            worker.stop()
        if self._server is not None:
            self._server.task_dispatcher.shutdown(timeout=timeout)
            # Sockets are closed by the server's own loop (woken by its trigger): closed from here, they raced
            # its select() and the loop died with EBADF. With no socket left in its map, the loop ends.
            try:
                self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._sockets))
            except OSError:
                # The trigger's pipe is gone (seen once in CI, cause not found): its loop cannot be woken, so the
                # sockets are closed from here; select() then fails in the loop's thread, which ends.
                log.warning("%s: the HTTP loop's trigger was already closed; closing its sockets directly", self.name)
                wasyncore.close_all(self._sockets, ignore_all=True)
            if self._http_thread is not None:
                self._http_thread.join(timeout)
            self._server = None  # a second stop must not write to the closed trigger's (reused) descriptor
        for thread in self._threads:
            thread.join(timeout)
        log.info("%s stopped", self.name)


def settle_startup_objects() -> None:
    """Move what start-up built (the app, its schemas, the clinic, the modules) out of the garbage collector's way.

    It lives as long as the process; left in place, every full collection walks it again, and the requests that
    happen to trigger one were the slowest (several ms on a four-week slot list).
    """
    gc.collect()
    gc.freeze()


def run_until_signalled(*runtimes: ServiceRuntime) -> None:
    settle_startup_objects()
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    for runtime in runtimes:
        runtime.start()
    stopping.wait()
    for runtime in reversed(runtimes):
        runtime.stop()
