"""HTTP/1.1 over loopback: a threading server with keep-alive and exact Content-Length.

The handler only moves bytes: it reads the body, hands (method, path, Authorization, body) to
the :class:`~directorsync.simulator.dispatch.Dispatcher` and writes the reply in one ``send``
(status line, headers and body together, ``TCP_NODELAY`` on): small answers never wait for a
delayed ACK. A ``drop`` reply closes the connection without sending a byte.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from typing_extensions import override

from directorsync.simulator.dispatch import Dispatcher, Reply


class Handler(BaseHTTPRequestHandler):
    """Serves every method through the dispatcher."""

    protocol_version = "HTTP/1.1"
    server_version = "DirectorSimulator/1"
    sys_version = ""
    server: SimulatorHTTPServer

    @override
    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    @override
    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Every method goes the same way."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        reply = self.server.dispatcher.handle(
            self.command, self.path, self.headers.get("Authorization"), body
        )
        if reply.drop:
            self.close_connection = True
            return
        self._write(reply)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

    def _write(self, reply: Reply) -> None:
        phrase = HTTPStatus(reply.status).phrase
        head = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            *(f"{k}: {v}" for k, v in reply.headers.items()),
        ]
        if self.close_connection:
            head.append("Connection: close")
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        body = b"" if self.command == "HEAD" else reply.body
        if len(body) < 1 << 16:  # one write: a small answer in one segment
            self.wfile.write(head_bytes + body)
        else:  # a large body as it is, not copied behind the head
            self.wfile.write(head_bytes)
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        """Silence the per-request stderr line (the request log has everything)."""


class SimulatorHTTPServer(ThreadingHTTPServer):
    """One thread per connection; open connections are tracked so that stop can close them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def server_bind(self) -> None:
        """Bind without ``getfqdn`` (which may wait on DNS)."""
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)  # bound: a str (typeshed also allows bytes, for input)

    def track(self, conn: socket.socket) -> None:
        """Remember an open connection."""
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        """Forget a closed connection."""
        with self._connections_lock:
            self._connections.discard(conn)

    def close_connections(self) -> None:
        """Shut down every open (keep-alive) connection, so that no client is served after stop."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
