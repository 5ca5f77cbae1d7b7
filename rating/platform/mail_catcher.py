"""The local mail catcher of `make run`: a real SMTP server (aiosmtpd) that delivers nothing
and keeps every message it receives as an .eml file, so that the demo's emails (password
reset included) can be read without a mail server. Administrators read them in the
browser at /dev/mail when the application runs in development mode (RATING_ENV=development).

Run: `python -m rating.platform.mail_catcher [--host 127.0.0.1] [--port 2525] [--dir instance/mail]`
(the Procfile's `mail` process). `caught()` and `read()` are what the page uses.
"""
from __future__ import annotations

import argparse
import email
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from rating.config import MAIL_CATCHER_PORT

ROOT = Path(__file__).resolve().parents[2]
# A caught message's file name: when it arrived (UTC, to the microsecond), a sequence number.
_NAME = re.compile(r"^\d{8}T\d{12}-\d{6}\.eml$")


class _Keeper:
    """aiosmtpd's handler: writes each message to `directory` (a temporary file renamed into
    place, so a reader never sees half a message) and answers 250."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        with self.lock:
            self.count += 1
            name = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time_ns() // 1000 % 1_000_000:06d}"
            name += f"-{self.count % 1_000_000:06d}.eml"
        header = f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n".encode()
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(header + content)
        temporary.replace(self.directory / name)
        return "250 OK: kept"


def start(directory: Path, host: str = "127.0.0.1", port: int = MAIL_CATCHER_PORT) -> Controller:
    """Start the catcher in a thread of this process; `stop()` the controller it returns."""
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(_Keeper(directory), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class Caught:
    name: str           # the file's name: the message's id on the page
    to: str
    subject: str
    date: str
    body: str


def _parse(path: Path) -> Caught:
    message = email.message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=policy.default)
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return Caught(name=path.name, to=str(message.get("X-Envelope-To") or message.get("To") or ""),
                  subject=str(message.get("Subject") or ""), date=str(message.get("Date") or ""), body=body)


def caught(directory: str | Path, limit: int = 200) -> list[Caught]:
    """The newest `limit` messages kept in `directory`, newest first."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    names = sorted((name for name in os.listdir(folder) if _NAME.match(name)), reverse=True)[:limit]
    return [_parse(folder / name) for name in names]


def read(directory: str | Path, name: str) -> Caught | None:
    """One kept message by its file name (None: no such message; nothing outside `directory`)."""
    if not _NAME.match(name):
        return None
    path = Path(directory) / name
    return _parse(path) if path.is_file() else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Keep every message sent to this SMTP server as .eml files.")
    parser.add_argument("--host", default="127.0.0.1")
    # Where the application sends in development: MAIL_PORT when no MAIL_SERVER is given.
    parser.add_argument("--port", type=int, default=int(
        (not os.environ.get("MAIL_SERVER") and os.environ.get("MAIL_PORT")) or MAIL_CATCHER_PORT))
    parser.add_argument("--dir", default=os.environ.get("MAIL_CATCHER_DIR")
                        or str(Path(os.environ.get("INSTANCE_PATH") or ROOT / "instance") / "mail"))
    args = parser.parse_args(argv)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    controller = start(Path(args.dir), args.host, args.port)
    print(f"mail catcher: SMTP on {args.host}:{args.port}, keeping messages in {args.dir}", flush=True)
    try:
        stopped.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
