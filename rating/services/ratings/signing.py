"""Ed25519 signatures on certificates, checkable offline with the published public key.

The signed payload is one line, `rating-certificate-v1|<number>|<credit code>|<level>|
<granted on>|<valid until>`; the signature (base64url, no padding) travels in the QR code
(`…/verify/<number>?sig=…`) and, with the payload, in the PDF's metadata. Ed25519 is
deterministic, so re-rendering a certificate gives the same bytes.

The private key is a PEM file (`CERTIFICATE_KEY_FILE`, default in the instance folder,
created on first use); every web and worker host must use the same file.
"""
from __future__ import annotations

import base64
import binascii
import os
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import current_app
from pypdf import PdfReader
from pypdf.errors import PdfReadError

PAYLOAD_PREFIX = "rating-certificate-v1"
# Names of the PDF document-information entries that carry the payload and signature.
PDF_PAYLOAD_KEY = "RatingCertificatePayload"
PDF_SIGNATURE_KEY = "RatingCertificateSignature"

_keys: dict[str, Ed25519PrivateKey] = {}


@dataclass(frozen=True)
class SignedFields:
    certificate_no: str
    uscc: str
    level: int
    granted_on: str
    valid_until: str


def payload(certificate_no: str, uscc: str, level: int, granted_on: date, valid_until: date) -> str:
    return "|".join([PAYLOAD_PREFIX, certificate_no, uscc, str(level), granted_on.isoformat(),
                     valid_until.isoformat()])


def rating_payload(rating) -> str:
    """The signed line of a rating's certificate."""
    return payload(rating.certificate_no, rating.enterprise.uscc, rating.level, rating.granted_on,
                   rating.valid_until)


def parse_payload(text: str) -> SignedFields | None:
    parts = text.split("|")
    if len(parts) != 6 or parts[0] != PAYLOAD_PREFIX or not parts[3].isdigit():
        return None
    return SignedFields(parts[1], parts[2], int(parts[3]), parts[4], parts[5])


def key_path() -> Path:
    return Path(current_app.config["CERTIFICATE_KEY_FILE"])


def private_key() -> Ed25519PrivateKey:
    path = key_path()
    cached = _keys.get(str(path))
    if cached is not None:
        return cached
    if not path.exists():
        _create_key(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{path} is not an Ed25519 private key")
    _keys[str(path)] = key
    return key


def _create_key(path: Path) -> None:
    """Create the key file once; a process or host that loses the race reads the winner's
    key. The file appears whole or not at all: written and synced under a name of its own,
    then linked to `path` (a link fails where the name exists). Created in place, a worker
    rendering at the same moment read it empty and failed its certificate."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def public_key_pem() -> bytes:
    return private_key().public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def sign(text: str) -> str:
    return base64.urlsafe_b64encode(private_key().sign(text.encode())).rstrip(b"=").decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def check(text: str, signature: str, public_key: Ed25519PublicKey) -> bool:
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        public_key.verify(raw, text.encode())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass(frozen=True)
class PdfCheck:
    ok: bool
    message: str
    fields: SignedFields | None = None


def check_pdf(path: Path, public_key: Ed25519PublicKey) -> PdfCheck:
    """Check a certificate file offline: the signature in its metadata, and that the page
    shows the signed number and credit code."""
    try:
        reader = PdfReader(str(path))
        # HTML lower-cases <meta> names on their way into the PDF: compare case-blind.
        info = {str(key).lower(): value for key, value in (reader.metadata or {}).items()}
        text = str(info.get("/" + PDF_PAYLOAD_KEY.lower()) or "")
        signature = str(info.get("/" + PDF_SIGNATURE_KEY.lower()) or "")
        page_text = "".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, OSError, ValueError) as exc:
        return PdfCheck(False, f"not a readable PDF: {exc}")
    fields = parse_payload(text)
    if fields is None or not signature:
        return PdfCheck(False, "no certificate signature in this PDF's metadata")
    if not check(text, signature, public_key):
        return PdfCheck(False, "the signature does not match: the certificate data was altered or not signed by us",
                        fields)
    compact = "".join(page_text.split())
    missing = [value for value in (fields.certificate_no, fields.uscc) if value not in compact]
    if missing:
        return PdfCheck(False, f"signature valid, but the page does not show {', '.join(missing)}", fields)
    return PdfCheck(True, "signature valid", fields)
