"""Input that used to break pages or cost the server (issue 25): bodies over the limit
refused before they are read, lone surrogates and bidi controls refused wherever text
enters, an imported rating's certificate and impossible dates answered plainly, private
answers never cached, HSTS in production, links from PUBLIC_BASE_URL, polyglot markup."""
from __future__ import annotations

import io
import json
import os
import select
import socket
import subprocess

import pytest
import xlsxwriter
from sqlalchemy import func, select as sql_select

from rating.extensions import db
from rating.models import Enterprise
from rating.rules.uscc import uscc_from_serial
from rating.services.reporting import imports
from tests.support.factories import PDF_BYTES, make_batch, make_staff
from tests.support.files import image_bytes, refused
from tests.support.flows import approved, notice_body, upload
from tests.support.people import csrf_token, logged_in
from tests.support.servers import BIN, ROOT, free_port, web

pytestmark = pytest.mark.integration

HIDDEN = "隐藏字符"
IMPORTED_NO = "JS-2023-1-3-900777"


class Untouchable(io.BytesIO):
    """A request body that must never be read."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readinto = readline = read


def registration(**overrides) -> dict:
    return {"name": "常州加固测试有限公司", "uscc": uscc_from_serial(4242, division="320402"),
            "district_code": "320402", "industry": "C", "scale": "small", "contact_name": "王工",
            "contact_phone": "0519-12345678", "email": "hardening@example.com", "password": "Passw0rd-x",
            **overrides}


# -- 413 before the body is read -----------------------------------------------------------

def test_an_announced_oversized_body_is_413_unread(app, client):
    huge = 200 * 1024 * 1024
    announced = {"CONTENT_LENGTH": str(huge)}
    answer = client.post("/api/v1/tokens", input_stream=Untouchable(), environ_overrides=announced,
                         content_type="application/json")
    assert answer.status_code == 413 and answer.get_json()["error"]["code"] == "too_large"
    page = client.post("/login", input_stream=Untouchable(), environ_overrides=announced,
                       content_type="multipart/form-data; boundary=B")
    assert page.status_code == 413 and "提交的内容过大" in page.text     # before the CSRF refusal (400)


def test_json_and_forms_take_a_mebibyte_uploads_their_own_limit(app, client, api):
    over = b'{"email": "' + b"x" * (1024 * 1024) + b'"}'
    assert client.post("/api/v1/tokens", data=over, content_type="application/json").status_code == 413
    within = b'{"email": "' + b"x" * (1000 * 1024) + b'", "password": "x"}'
    assert client.post("/api/v1/tokens", data=within, content_type="application/json").status_code == 401
    batch = make_batch("js-2024")
    _firm, token = api.register_firm()
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    assert upload(api, token, draft["id"], PDF_BYTES[:-6] + b" " * (3 * 1024 * 1024) + b"%%EOF\n").status_code == 201
    past = app.config["MAX_UPLOAD_BYTES"] + 65 * 1024
    answer = client.post(f"/api/v1/applications/{draft['id']}/evidence", input_stream=Untouchable(),
                         environ_overrides={"CONTENT_LENGTH": str(past)},
                         content_type="multipart/form-data; boundary=B",
                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 413 and "文件过大" in answer.get_json()["error"]["message"]


def test_a_body_without_a_length_is_cut_at_the_limit(app, client):
    chunked = io.BytesIO(b'{"email": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    answer = client.post("/api/v1/tokens", input_stream=chunked, content_type="application/json",
                         headers={"Transfer-Encoding": "chunked"},
                         environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 413
    assert chunked.tell() <= 1024 * 1024 + 64 * 1024      # read up to the limit, not to the end


@pytest.fixture(scope="module")
def server(app_env, tmp_path_factory):
    port = free_port()
    process = web(app_env, tmp_path_factory.mktemp("web"), port, workers=1, threads=2)
    yield port
    process.stop()


def _first_line(sock: socket.socket, timeout: float = 30.0) -> bytes:
    sock.settimeout(timeout)
    return sock.recv(4096).split(b"\r\n", 1)[0]


@pytest.mark.parametrize("path, content_type", [("/api/v1/tokens", "application/json"),
                                                ("/register", "multipart/form-data; boundary=B")])
def test_a_real_server_answers_413_before_the_body_arrives(app, server, path, content_type):
    # The body never comes: an answer at all proves the server did not wait for it (a
    # server that did would leave _first_line to time out).
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                     f"Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode() + b"--B\r\n")
        assert _first_line(sock).startswith(b"HTTP/1.1 413")


def test_a_real_server_cuts_a_chunked_body_at_the_limit(app, server):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"POST /api/v1/tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        # Far beyond what the kernel's buffers hold in flight on loopback (a few MiB): a
        # server that read the body to its end would take all of it. A smaller bound failed
        # on a loaded machine, where the buffers filled before the server ran.
        bound = 64 * 1024 * 1024
        sent = 0
        while sent < bound and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break
            sent += len(chunk)
        assert _first_line(sock).startswith(b"HTTP/1.1 413")
        assert sent < bound


# -- lone surrogates and bidi controls --------------------------------------------------------

@pytest.mark.parametrize("body", [
    {"email": "a@example.com", "password": "\ud800"},
    {"email": "a@example.com\u202e", "password": "x"},
    {"email": "a@example.com", "password": "x", "extra": {"deep": ["\udfff"]}},
], ids=["surrogate", "bidi", "nested"])
def test_hidden_characters_in_json_are_422(app, api, body):
    answer = api.post("/tokens", body)
    assert answer.status_code == 422, answer.get_json()
    assert HIDDEN in answer.get_json()["error"]["message"]


@pytest.mark.parametrize("field, value", [("name", "\ud800"), ("contact_name", "\ud800"),
                                          ("name", "南京\u202e司公限有\u202c"), ("contact_name", "王\u2066工"),
                                          ("name", "常州\u200b有限公司")])
def test_registration_refuses_hidden_characters(app, api, field, value):
    answer = api.post("/enterprises", registration(**{field: value}))
    assert answer.status_code == 422, answer.get_json()
    assert HIDDEN in json.dumps(answer.get_json(), ensure_ascii=False)
    assert db.session.scalar(sql_select(func.count()).select_from(Enterprise)) == 0


def test_html_forms_refuse_bidi_controls(app, client):
    page = client.get("/register")
    data = {**registration(name="南京\u202e司公限有"), "confirm": "Passw0rd-x", "csrf_token": csrf_token(page.text)}
    answer = client.post("/register", data=data)
    assert HIDDEN in answer.text and answer.status_code in (200, 422)
    assert db.session.scalar(sql_select(func.count()).select_from(Enterprise)) == 0


@pytest.fixture()
def imported(app):
    """A rating imported from an earlier list (no account, no certificate in this system)."""
    rows = [["常州旧名单有限公司", uscc_from_serial(9100, division="320402"), "320402", "3", "2023", IMPORTED_NO,
             "第一批", "2023-06-30"]]
    report = imports.run("list.csv", _csv(rows), None)
    db.session.commit()
    assert report.imported == 1, report.errors
    return IMPORTED_NO


def _csv(rows) -> bytes:
    lines = ["企业名称,统一社会信用代码,区县代码,星级,年度,证书编号,批次,认定日期"] + [",".join(row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _xlsx(rows) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["企业名称", "统一社会信用代码", "区县代码", "星级", "年度"])
    for number, row in enumerate(rows, start=1):
        sheet.write_row(number, 0, row)
    book.close()
    return out.getvalue()


def test_an_imported_row_with_hidden_characters_is_an_error_row(app):
    official = make_staff("official", "320400")
    rows = [["南京\u202e司公限有", uscc_from_serial(9101, division="320402"), "320402", "3", "2023"],
            ["常州正常有限公司", uscc_from_serial(9102, division="320402"), "320402", "3", "2023"],
            ["常州\u200b零宽有限公司", uscc_from_serial(9103, division="320402"), "320402", "4", "2023"]]
    client = logged_in(app, official.email)
    page = client.get("/ratings/import")
    answer = client.post("/ratings/import", data={"csrf_token": csrf_token(page.text),
                                                  "file": (io.BytesIO(_xlsx(rows)), "名单\u202e.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200
    assert answer.text.count(HIDDEN) == 2
    names = set(db.session.scalars(sql_select(Enterprise.name)))
    assert names == {"常州正常有限公司"}
    assert "\u202e" not in answer.text


def test_a_page_with_a_stored_surrogate_still_renders(app):
    """The embedded SQLite setup may hold one from before JSON bodies were checked."""
    with app.test_request_context("/"):
        response = app.make_response("常州\ud800公司")
    assert response.get_data() == "常州\ufffd公司".encode()


def test_an_answer_with_a_surrogate_is_never_written(app, api):
    batch = make_batch("js-2024")
    _firm, token = api.register_firm()
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    code = next(i.code for i in batch_edition_indicators(batch) if i.type == "text")
    answer = api.patch(f"/applications/{draft['id']}", {"answers": {code: "说明\ud800"}}, token=token)
    assert answer.status_code == 422 and f"answers.{code}" in answer.get_json()["error"]["fields"]


def batch_edition_indicators(batch):
    from rating.services.reference import get_edition

    return get_edition(batch.edition_code).indicators_for(3)


# -- answers instead of 500s -------------------------------------------------------------------

def test_an_imported_ratings_certificate_is_a_clear_404(app, api, imported):
    official = make_staff("official", "320400")
    answer = api.get(f"/ratings/{imported}/certificate.pdf", token=api.token(official.email))
    assert answer.status_code == 404
    assert "历史名单导入" in answer.get_json()["error"]["message"]
    page = logged_in(app, official.email).get(f"/ratings/{imported}/certificate.pdf", follow_redirects=True)
    assert page.status_code == 200 and "历史名单导入" in page.text


@pytest.mark.parametrize("day", ["0001-01-01", "1989-12-31", "9999-12-31"])
def test_dates_the_figures_cannot_have_are_refused(app, api, day):
    official = make_staff("official", "320400")
    page = logged_in(app, official.email).get(f"/dashboard?on={day}")
    assert page.status_code == 422 and "1990-01-01 至 2100-12-31" in page.text
    answer = api.get(f"/totals?on={day}")
    assert answer.status_code == 422 and "on" in answer.get_json()["error"]["fields"]


# -- caching, HSTS, links -----------------------------------------------------------------------

PRIVATE = "private, no-store"


def test_private_answers_are_never_stored_public_ones_keep_their_caching(app, api, imported):
    official = make_staff("official", "320400")
    official_token = api.token(official.email)
    batch = make_batch("js-2024")
    _firm, token = api.register_firm(email="cache-firm@example.com")
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    evidence = upload(api, token, draft["id"], PDF_BYTES).get_json()
    firm = logged_in(app, "cache-firm@example.com")
    staff = logged_in(app, official.email)
    private = [
        firm.get("/applications/"), firm.get(f"/applications/{draft['id']}/edit"),
        firm.get(f"/applications/{draft['id']}/evidence/{evidence['id']}"),
        staff.get("/dashboard"), staff.get("/ratings/"), staff.get(f"/ratings/{imported}"),
        api.get(f"/applications/{draft['id']}", token=token), api.get("/ratings", token=official_token),
        api.get("/exports/ratings.csv", token=official_token), api.get("/applications/999999", token=token),
        firm.get("/no-such-page"),
    ]
    for answer in private:
        assert answer.headers.get("Cache-Control") == PRIVATE, (answer.request.path, answer.headers)
    public = app.test_client()
    for path in (f"/verify/{imported}", f"/api/v1/verify/{imported}", "/static/css/app.css", "/publicity/"):
        answer = public.get(path)
        assert answer.status_code == 200 and "no-store" not in answer.headers.get("Cache-Control", ""), path
    assert public.get("/api/v1/openapi.json").headers["Cache-Control"] == "public, max-age=300"


def _headers_in(env: dict, tmp_path) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("RATING_ENV", "SESSION_COOKIE_SECURE")}
    code = ("import json; from rating import create_app; app = create_app(); "
            "print(json.dumps(dict(app.test_client().get('/hello').headers)))")
    done = subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**clean, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s3cret-from-the-vault", **env})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_hsts_in_production_only(app_env, tmp_path):
    production = _headers_in({"RATING_ENV": "production"}, tmp_path)
    assert production["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in _headers_in({}, tmp_path)


def test_a_notice_link_is_built_on_public_base_url_not_the_host_header(app, api):
    batch = make_batch("js-2024")
    tokens = {name: api.token(make_staff(role, code).email) for name, role, code in [
        ("county", "reviewer", "320402"), ("city", "reviewer", "320400"), ("official", "official", "320400")]}
    application_id, _firm = approved(api, batch, tokens)
    created = api.post("/publicity-notices", notice_body([application_id]), token=tokens["official"],
                       headers={"Host": "evil.example"})
    assert created.status_code == 201, created.get_json()
    notice_id = created.get_json()["id"]
    expected = f"{app.config['PUBLIC_BASE_URL']}/publicity/{notice_id}"
    assert created.get_json()["url"] == expected
    shown = api.get(f"/publicity-notices/{notice_id}", token=tokens["official"], headers={"Host": "evil.example"})
    assert shown.get_json()["url"] == expected


# -- polyglots ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, name", [
    (image_bytes("PNG") + b"<img src=x onerror=alert(1)>", "handler.png"),
    (image_bytes("JPEG")[:-2] + b'<svg/onload=alert(1)>\xff\xd9', "svg-handler.jpg"),
    (PDF_BYTES[:-6] + b'<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>\n%%EOF\n', "ns.pdf"),
    (PDF_BYTES[:-6] + b'<a:b xmlns:a="http://www.w3.org/1999/xhtml"/>\n%%EOF\n', "xhtml.pdf"),
], ids=["png-onerror", "jpeg-onload", "pdf-prefixed-script", "pdf-xhtml-namespace"])
def test_markup_polyglots_are_refused(api, app, data, name):
    batch = make_batch("js-2024")
    _firm, token = api.register_firm()
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    refused(api, app, draft["id"], token, data, name, "格式不符")


def test_polyglot_check_leaves_pdf_xmp_alone(api, app):
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:CreatorTool="Word">'
           b'<dc:format>application/pdf</dc:format></rdf:Description></rdf:RDF></x:xmpmeta>')
    batch = make_batch("js-2024")
    _firm, token = api.register_firm()
    draft = api.post("/applications", {"batch_id": batch.id, "target_level": 3}, token=token).get_json()
    assert upload(api, token, draft["id"], PDF_BYTES[:-6] + xmp + b"\n%%EOF\n").status_code == 201

