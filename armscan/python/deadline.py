"""A time limit on a whole HTTP request: connect, TLS, status line, headers and body.

A socket timeout bounds each read, so a server that sends one byte (or one header line) just before every
timeout holds a request open for ever. A deadline shuts the request's sockets from a watchdog thread when its
time is up, which ends any read blocked on them; the caller then sees `expired` set.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
import urllib.request
import weakref
from typing import Any

_LIVE: weakref.WeakSet[Deadline] = weakref.WeakSet()


class Deadline:
    """Shuts every socket registered with it `seconds` after it starts (or after the last `restart`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._done = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._watch, name="armscan-deadline", daemon=True)

    def __enter__(self) -> Deadline:
        _LIVE.add(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        with self._cond:
            self._done = True
            self._cond.notify()

    def expire(self) -> None:
        with self._cond:
            self.end = time.monotonic()
            self.seconds = 0  # and no restart
            self._cond.notify()

    def remaining(self) -> float:
        return max(0.001, self.end - time.monotonic())

    def restart(self) -> None:
        """Give the next step (one read of a long download) the full time again."""
        with self._cond:
            if not self.expired:
                self.end = time.monotonic() + self.seconds

    def watch(self, sock: socket.socket) -> None:
        with self._cond:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _watch(self) -> None:
        with self._cond:
            while not self._done:
                left = self.end - time.monotonic()
                if left <= 0:
                    self.expired = True
                    for sock in self._sockets:
                        _shut(sock)
                    return
                self._cond.wait(left)


def expire_all() -> None:
    """End every request in flight now (the scan was interrupted)."""
    for live in list(_LIVE):
        live.expire()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _bounded(base: type[http.client.HTTPConnection], deadline: Deadline) -> type[http.client.HTTPConnection]:
    class Bounded(base):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = self._watched_connection

        def _watched_connection(self, address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
            sock = socket.create_connection(address, min(deadline.remaining(), self.timeout or deadline.seconds),
                                            source_address)
            deadline.watch(sock)
            return sock

    return Bounded


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_bounded(http.client.HTTPConnection, self.deadline), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_bounded(http.client.HTTPSConnection, self.deadline), req)


def opener(deadline: Deadline, *handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener whose every connection (redirects included) is shut when the deadline passes."""
    return urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline), *handlers)
