"""A real SMTP server for the tests (aiosmtpd), collecting what it receives."""
from __future__ import annotations

import email
import threading
import time
from email.header import decode_header, make_header
from email.message import Message

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


class _Collector:
    """Keeps what arrives as bytes and parses it when asked: the server runs inside the
    benchmarks' own process, whose CPU would otherwise count parsing no one reads."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []     # (content, envelope recipients)
        self.refused: set[str] = set()      # recipients answered "550 no such mailbox"
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            if address in self.refused:
                return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self.lock:
            self.received.append((envelope.original_content or envelope.content, ",".join(envelope.rcpt_tos)))
        return "250 OK"

    def messages(self) -> list[Message]:
        with self.lock:
            received = list(self.received)
        parsed = []
        for content, recipients in received:
            message = email.message_from_bytes(content)
            message["X-Envelope-To"] = recipients
            parsed.append(message)
        return parsed


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.collector = _Collector()
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Message]:
        return self.collector.messages()

    def clear(self) -> None:
        with self.collector.lock:
            self.collector.received.clear()
            self.collector.refused.clear()

    def refuse(self, *addresses: str) -> None:
        """Answer RCPT TO for these addresses with a permanent refusal (550)."""
        with self.collector.lock:
            self.collector.refused.update(addresses)

    def wait_for(self, predicate, timeout: float = 60.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.messages if predicate(m)]
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no matching message in {timeout}s; got {[subject(m) for m in self.messages]}")


def subject(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def body(message: Message) -> str:
    return message.get_payload(decode=True).decode(message.get_content_charset() or "utf-8")
