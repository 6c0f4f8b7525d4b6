"""Local receivers for the delivery tests: an HTTP server that checks webhook signatures and
an SMTP server (aiosmtpd) that keeps the mail it gets. Loopback only, real sockets."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from greeniot.actions.sinks.webhook import SignatureError, verify


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers ``status`` (200 by default) to every POST and records it, signature checked."""

    secret: str
    port: int
    status: int = 200
    got: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k: v for k, v in self.headers.items()}
                try:
                    verify(receiver.secret, body, headers)
                    item = Received(headers, body, True)
                except SignatureError as err:
                    item = Received(headers, body, False, str(err))
                receiver.got.append(item)
                self.send_response(receiver.status if item.verified else 401)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def serve_posts(on_post: Callable[[bytes, dict[str, str]], None]
                ) -> tuple[ThreadingHTTPServer, str]:
    """A keep-alive HTTP/1.1 endpoint on a free loopback port that hands every POST's body and
    headers to ``on_post`` (on the server's thread) and answers 200: the benchmarks' crew
    phone. Returns the server (``shutdown()`` stops it) and its webhook URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            on_post(body, dict(self.headers.items()))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hook"


class BlackHole:
    """Accepts TCP connections and never answers: the slowest possible receiver."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    text: str


class MailBox:
    """An SMTP server on loopback keeping every message (aiosmtpd)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Any] = []
        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                box.messages.append(envelope)
                return "250 OK"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=port)

    def start(self) -> MailBox:
        self._controller.start()
        return self

    def mails(self) -> list[Mail]:
        """Each message as a reader sees it: recipients, decoded subject and plain text."""
        out = []
        for env in self.messages:
            msg = email.message_from_bytes(env.content, policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain",))
            out.append(Mail(list(env.rcpt_tos), str(msg["Subject"]),
                            body.get_content() if body is not None else ""))
        return out

    def url(self, to: str) -> str:
        """An apprise ``mailto://`` URL sending to ``to`` through this server, no TLS."""
        return (f"mailto://127.0.0.1:{self.port}?from=greeniot@example.org&to={to}"
                "&mode=insecure")

    def stop(self) -> None:
        self._controller.stop()
