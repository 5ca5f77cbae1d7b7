"""Evidence uploads people should not get through: the wrong type under a good name, polyglots,
zip bombs dressed as XLSX or DOCX, odd file names, empty and oversized files. Each is refused
with a clear message and leaves no row and no file, or (odd names) is stored under a safe name.

tests/filing/test_filing_api.py has the first cases (an .exe named .pdf, an empty file,
a plain zip named .xlsx, one highly compressed workbook member, 413, `../` with a NUL).
"""
from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

import pytest
from openpyxl import Workbook

from rating.platform import storage
from tests.support.factories import PDF_BYTES, make_batch
from tests.support.files import image_bytes, refused
from tests.support.flows import upload
from tests.support.people import csrf_token, logged_in
from tests.support.snapshot import fingerprint, stored_files
from tests.support import disk

pytestmark = pytest.mark.integration

TYPE_MESSAGE = "仅支持 PDF、PNG、JPEG、XLSX、DOCX 格式的文件（按文件内容识别）。"
POLYGLOT = "格式不符"
BOMB = "疑似压缩炸弹"
FIRM_EMAIL = "uploads@example.com"


@pytest.fixture()
def draft(api, app):
    """(application id, firm token) of a firm's draft."""
    batch = make_batch("js-2024")
    _firm, token = api.register_firm(email=FIRM_EMAIL)
    body = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    return body["id"], token


def zipped(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx(**extra: bytes) -> bytes:
    return zipped({"[Content_Types].xml": b"<Types/>",
                   "word/document.xml": "<document>合同</document>".encode(), **extra})


def xlsx_bytes() -> bytes:
    book = Workbook()
    book.active.append(["企业名称", "投入（元）"])
    book.active.append(["常州云上智造有限公司", 120000])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def png_with_text(text: bytes) -> bytes:
    """A PNG carrying `text` in a tEXt chunk before its image end."""
    png = image_bytes("PNG")
    chunk = b"tEXt" + b"Comment\x00" + text
    entry = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return png[:-12] + entry + png[-12:]


WRONG_TYPES = [
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "screenshot.png"),
    (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, "invoice.pdf"),
    (b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>", "合同.pdf"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.png"),
    (b"{\\rtf1\\ansi contract}", "contract.docx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "old-word.docx"),       # OLE2: .doc, .xls, macros
    (b"PK\x03\x04\x14\x00\x00\x00", "truncated.xlsx"),
    (b" %PDF-1.4\n%%EOF\n", "leading-space.pdf"),
    (b"%pdf-1.4\n%%EOF\n", "lowercase.pdf"),
    (b"\xff\xd8", "two-bytes.jpg"),
    (b"\x00" * 1024, "zeros.pdf"),
]


@pytest.mark.parametrize("data, name", WRONG_TYPES, ids=[name for _data, name in WRONG_TYPES])
def test_wrong_magic_bytes_are_refused(api, app, draft, data, name):
    refused(api, app, *draft, data, name, TYPE_MESSAGE)


POLYGLOTS = [
    (b"%PDF-1.4\n<html><body><script>alert(document.domain)</script></body></html>\n", "report.pdf"),
    (PDF_BYTES[:-6] + b"<script src=//evil.example/x.js></script>\n%%EOF\n", "script-inside.pdf"),
    (b"%PDF-1.4\n<iframe src=javascript:alert(1)>\n%%EOF\n", "frame.pdf"),
    (PDF_BYTES + b"<!-- " + b"x" * 2048 + b" -->", "trailing-page.pdf"),              # content after %%EOF
    (PDF_BYTES + zipped({"payload.js": b"alert(1)"}), "pdf-zip.pdf"),
    (image_bytes("JPEG") + docx(), "photo.jpg"),                  # a JPEG that is also a DOCX (GIFAR-style)
    (image_bytes("JPEG") + xlsx_bytes(), "table.xlsx"),
    (image_bytes("PNG") + zipped({"a.html": b"<p>hi</p>"}), "shot.png"),
    (png_with_text(b"<script>alert(1)</script>"), "comment.png"),
    (image_bytes("JPEG")[:-2] + b"<?php system($_GET['c']); ?>\xff\xd9", "shell.jpg"),
]


@pytest.mark.parametrize("data, name", POLYGLOTS, ids=[name for _data, name in POLYGLOTS])
def test_polyglots_are_refused(api, app, draft, data, name):
    refused(api, app, *draft, data, name, POLYGLOT)


def nested(depth: int) -> bytes:
    """A DOCX embedding an XLSX embedding a zip … `depth` archives deep in all."""
    inner = zipped({"data.txt": b"1234"})
    for _ in range(depth - 2):
        inner = zipped({"inner.zip": inner})
    return docx(**{"word/embeddings/Microsoft_Excel_Worksheet.xlsx": inner})


BOMBS = [
    (docx(**{"word/media/blank.bin": b"\x00" * (12 * 1024 * 1024)}), "highly-compressed.docx"),
    (docx(**{f"word/media/image{i}.png": b"x" for i in range(5001)}), "too-many-members.docx"),
    (nested(3), "nested-three-deep.docx"),
    (nested(6), "nested-six-deep.docx"),
    (docx(**{"word/embeddings/sheet.xlsx": zipped({"xl/sharedStrings.xml": b"0" * (12 * 1024 * 1024)})}),
     "nested-bomb.docx"),
    (docx(**{"word/embeddings/object.bin": docx(**{"word/embeddings/object.bin": zipped({"x": b"y"})})}),
     "nesting-under-other-names.docx"),
]


@pytest.mark.parametrize("data, name", BOMBS, ids=[name for _data, name in BOMBS])
def test_zip_bombs_disguised_as_office_files_are_refused(api, app, draft, data, name):
    refused(api, app, *draft, data, name, BOMB)


def test_real_documents_still_pass(api, app, draft):
    """The checks refuse no ordinary file: a workbook, images, a PDF, a DOCX embedding a workbook."""
    application_id, token = draft
    with_chart = docx(**{"word/embeddings/Microsoft_Excel_Worksheet.xlsx": xlsx_bytes()})
    files = {"投入明细.xlsx": xlsx_bytes(), "现场.jpg": image_bytes("JPEG"), "截图.png": image_bytes("PNG"),
             "合同.pdf": PDF_BYTES, "说明.docx": with_chart}
    for name, data in files.items():
        response = upload(api, token, application_id, data, name)
        assert response.status_code == 201, (name, response.get_json())
        assert response.get_json()["filename"] == name


@pytest.mark.parametrize("name, kept", [
    ("../../etc/passwd", "passwd"),
    ("/var/www/html/index.pdf", "index.pdf"),
    ("发票\u202efdp.exe", "发票fdp.exe"),                        # right-to-left override: shows as "exe.pdf"
    ("a\x00b.pdf", "ab.pdf"),
    ("zero\u200bwidth\ufeff.pdf", "zerowidth.pdf"),
    ("..", "file"),
    ("   ", "file"),
    ("", "file"),
], ids=["traversal", "absolute", "rtl-override", "nul", "zero-width", "dots", "blank", "empty"])
def test_odd_names_are_stored_under_a_safe_name(api, app, draft, name, kept):
    application_id, token = draft
    response = upload(api, token, application_id, PDF_BYTES, name)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["filename"] == kept
    stored = disk.evidence_path(body["sha256"])                  # stored by its hash, never by its name
    assert stored.read_bytes() == PDF_BYTES
    evidence_dir = stored.parent.parent.parent
    assert all(re.fullmatch("[0-9a-f]{64}", path.name) for path in evidence_dir.rglob("*") if path.is_file())
    download = logged_in(app, FIRM_EMAIL).get(f"/applications/{application_id}/evidence/{body['id']}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and not re.search(r"[\x00-\x1f\x7f\u202e/\\]", disposition)


def test_a_very_long_name_keeps_its_extension(api, draft):
    application_id, token = draft
    response = upload(api, token, application_id, PDF_BYTES, "很长的文件名" * 300 + ".pdf")
    assert response.status_code == 201
    filename = response.get_json()["filename"]
    assert len(filename) == 200 and filename.endswith(".pdf") and filename.startswith("很长的文件名")
    assert storage.safe_filename("x" * 300) == "x" * 200
    assert storage.safe_filename("x" * 300 + ".not-an-extension-at-all") == "x" * 200


def test_a_file_exactly_at_the_limit_passes_and_one_byte_more_is_413(api, app, draft):
    application_id, token = draft
    app.config["MAX_UPLOAD_BYTES"] = 4096
    try:
        at_limit = PDF_BYTES[:-6] + b" " * (4096 - len(PDF_BYTES)) + b"%%EOF\n"
        assert len(at_limit) == 4096
        assert upload(api, token, application_id, at_limit, "at-limit.pdf").status_code == 201
        before, files_before = fingerprint(), stored_files(app)
        over = upload(api, token, application_id, at_limit + b"\n", "over.pdf")
    finally:
        app.config["MAX_UPLOAD_BYTES"] = 20 * 1024 * 1024
    assert over.status_code == 413
    error = over.get_json()["error"]
    assert error["code"] == "too_large" and "文件过大" in error["message"]
    assert fingerprint() == before and stored_files(app) == files_before


def test_a_request_without_a_file_is_422(api, draft):
    application_id, token = draft
    response = api.client.post(f"/api/v1/applications/{application_id}/evidence",
                               data={"indicator_code": "x"}, content_type="multipart/form-data",
                               headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["file"] == ["请选择要上传的文件。"]


@pytest.mark.parametrize("data, limit, message", [
    (b"", None, "文件为空"),
    (PDF_BYTES + b" " * 2048, 1024, "文件过大"),
    (b"%PDF-1.4\n<script>alert(1)</script>\n%%EOF\n", None, POLYGLOT),
    (docx(**{"word/media/blank.bin": b"\x00" * (12 * 1024 * 1024)}), None, BOMB),
    (b"MZ\x90\x00", None, TYPE_MESSAGE),
], ids=["empty", "oversized", "polyglot", "zip-bomb", "wrong-type"])
def test_the_page_says_why_and_keeps_nothing(api, app, draft, data, limit, message):
    """The firm's page refuses the same files, with the message shown on the form."""
    application_id, _token = draft
    client = logged_in(app, FIRM_EMAIL)
    form = client.get(f"/applications/{application_id}/edit")
    before, files_before = fingerprint(), stored_files(app)
    if limit:
        app.config["MAX_UPLOAD_BYTES"] = limit
    try:
        data = {"csrf_token": csrf_token(form.text), "file": (io.BytesIO(data), "材料.pdf")}
        response = client.post(f"/applications/{application_id}/evidence", data=data,
                               content_type="multipart/form-data", follow_redirects=True)
    finally:
        app.config["MAX_UPLOAD_BYTES"] = 20 * 1024 * 1024
    assert response.status_code == 200 and message in response.text
    assert fingerprint() == before and stored_files(app) == files_before
