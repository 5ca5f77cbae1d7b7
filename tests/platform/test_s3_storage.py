"""STORAGE_BACKEND=s3 against a real S3-compatible server (moto's standalone server on
127.0.0.1, started here; boto3 itself is not mocked): evidence, certificates and export
files land in the bucket under their keys, download byte-identical through the
permission-checked views only (a byte range as that part of the object), and nothing but
removed temporaries touches STORAGE_DIR (staged files of killed writes are swept)."""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import select, update

from rating import clock
from rating.extensions import db
from rating.models import Certificate, Evidence, ExportJob, Rating
from rating.platform import blobstore
from rating.services.ratings import certificates
from rating.services.reporting import export_jobs
from tests.conftest import IsolatedClient
from tests.support.factories import PDF_BYTES, Api, grant_rating, make_batch, make_staff
from tests.support.flows import approved, close_notice, export, upload
from tests.support.pdf import pdf_text
from tests.support.people import logged_in
from tests.support import disk
from workers import tasks

pytestmark = pytest.mark.integration

PREFIX = "rating/"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_server():
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)             # not a line per S3 request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    yield f"http://{host}:{port}"
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()
    werkzeug_log.setLevel(level)


@pytest.fixture(scope="module")
def bucket(s3_server):
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    name = f"rating-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name


@pytest.fixture(scope="module")
def _s3_app(_app, s3_server, bucket, tmp_path_factory):
    """A second app on the same database and broker whose storage is the bucket."""
    from rating import create_app

    storage_dir = tmp_path_factory.mktemp("s3-staging")
    s3_app = create_app({"TESTING": True, "STORAGE_BACKEND": "s3", "S3_BUCKET": bucket[1],
                         "S3_PREFIX": PREFIX, "S3_ENDPOINT_URL": s3_server, "S3_REGION": "us-east-1",
                         "STORAGE_DIR": str(storage_dir)})
    s3_app.test_client_class = IsolatedClient
    # create_app made its Celery app the default one: give that back to the session's app.
    _app.extensions["celery"].set_current()
    _app.extensions["celery"].set_default()
    return s3_app


@pytest.fixture()
def s3_app(app, _s3_app, bucket):
    """The S3 app's context over the (reset) session app's; the bucket emptied."""
    client, name = bucket
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    with _s3_app.app_context():
        yield _s3_app
        db.session.rollback()
        db.session.remove()


@pytest.fixture()
def api(s3_app):
    """Overrides conftest's: every API call of this module goes to the S3 app."""
    return Api(s3_app.test_client())


def objects(bucket) -> dict[str, bytes]:
    client, name = bucket
    return {item["Key"]: client.get_object(Bucket=name, Key=item["Key"])["Body"].read()
            for item in client.list_objects_v2(Bucket=name).get("Contents", [])}


def local_files(app) -> list[Path]:
    """Files under STORAGE_DIR: staged temporaries must all be gone."""
    return [p for p in Path(app.config["STORAGE_DIR"]).rglob("*") if p.is_file()]


def test_the_backend_follows_the_configuration(s3_app, app):
    assert blobstore.backend().kind == "s3" and blobstore.backend().prefix == PREFIX
    with app.test_request_context():
        assert blobstore.backend().kind == "local"          # the session's app is unchanged


def doctor_storage() -> tuple[bool, str]:
    """`doctor`'s storage line (the checks after it, fonts and WeasyPrint, are not run)."""
    from rating.platform.doctor import run_checks

    return next((ok, detail) for name, ok, detail in run_checks() if name == "storage")


def test_doctor_reports_the_storage_in_use(s3_app, app, bucket, monkeypatch):
    ok, detail = doctor_storage()
    assert ok and detail.startswith(f"s3: s3://{bucket[1]}/{PREFIX} (staging in "), detail
    # create_app refuses a bucketless setting; one changed since (here) fails doctor, same words.
    monkeypatch.setitem(s3_app.config, "S3_BUCKET", None)
    assert doctor_storage() == (False, "unusable: RuntimeError: S3_BUCKET must be set when STORAGE_BACKEND=s3")
    monkeypatch.undo()
    with app.app_context():
        assert doctor_storage() == (True, f"local: {app.config['STORAGE_DIR']}")


def test_evidence_goes_to_the_bucket_and_downloads_only_for_its_firm(api, s3_app, bucket, monkeypatch):
    batch_ = make_batch("js-2024")
    _firm, token = api.register_firm(email="s3-owner@example.com")
    api.register_firm(email="s3-other@example.com")
    application_id = api.post("/applications", {"batch_id": batch_.id, "target_level": 3},
                              token=token).get_json()["id"]
    content = PDF_BYTES + b"% stored in S3\n" + os.urandom(64).hex().encode()
    sha = hashlib.sha256(content).hexdigest()

    response = upload(api, token, application_id, content, "证明材料.pdf")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    key = f"{PREFIX}evidence/{sha[:2]}/{sha[2:4]}/{sha}"
    assert body["sha256"] == sha and objects(bucket) == {key: content}
    # The same content again: no second object, no second upload needed.
    assert upload(api, token, application_id, content, "again.pdf").status_code == 201
    assert list(objects(bucket)) == [key]

    url = f"/applications/{application_id}/evidence/{body['id']}"
    download = logged_in(s3_app, "s3-owner@example.com").get(url)
    assert download.status_code == 200 and download.data == content
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert int(download.headers["Content-Length"]) == len(content)
    assert logged_in(s3_app, "s3-other@example.com").get(url).status_code == 404
    missing = f"/applications/{application_id}/evidence/999999"
    assert logged_in(s3_app, "s3-owner@example.com").get(missing).status_code == 404
    assert s3_app.test_client().get(url).status_code in (302, 401)          # not logged in: no file
    assert local_files(s3_app) == []

    # The object is gone (say, a bucket restored from an older copy): 404, not a 500.
    client, name = bucket
    client.delete_object(Bucket=name, Key=key)
    assert logged_in(s3_app, "s3-owner@example.com").get(url).status_code == 404

    # The store refuses writes (here: a bucket that does not exist): the same clear 503 as
    # an unwritable STORAGE_DIR, no evidence row, no temporary left.
    of_application = select(Evidence.id).where(Evidence.application_id == application_id)
    rows = db.session.execute(of_application).all()
    monkeypatch.setitem(s3_app.config, "S3_BUCKET", f"missing-{uuid.uuid4().hex[:8]}")
    refused = upload(api, token, application_id, PDF_BYTES + b"% refused\n")
    monkeypatch.undo()
    error = refused.get_json()["error"]
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert error["code"] == "unavailable" and "文件存储暂时无法写入" in error["message"]
    db.session.rollback()
    assert db.session.execute(of_application).all() == rows
    assert local_files(s3_app) == []


def test_certificate_is_rendered_into_the_bucket_and_streamed(api, s3_app, bucket,
                                                             batch, people):  # noqa: F811
    application_id, firm_token = approved(api, batch, people)
    _other, other_token = api.register_firm("320402")
    [number] = close_notice(api, people, [application_id])
    rating_id = db.session.execute(select(Rating.id).where(Rating.certificate_no == number)).scalar_one()
    assert api.get(f"/ratings/{number}/certificate.pdf", token=firm_token).status_code == 409

    assert certificates.render(rating_id) == "rendered"
    assert certificates.render(rating_id) == "current"
    db.session.expire_all()
    first = db.session.get(Certificate, rating_id)
    first_sha, first_size = first.sha256, first.size
    key = f"{PREFIX}certificates/{number}/{first_sha}.pdf"
    stored = objects(bucket)
    assert key in stored and hashlib.sha256(stored[key]).hexdigest() == first_sha
    assert len(stored[key]) == first_size
    assert [k for k in stored if k.startswith(f"{PREFIX}certificates/")] == [key]

    pdf = api.get(f"/ratings/{number}/certificate.pdf", token=firm_token)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == stored[key]
    assert pdf.headers["ETag"].strip('"') == first_sha and pdf.headers["Cache-Control"] == "private, no-store"
    again = api.get(f"/ratings/{number}/certificate.pdf", token=firm_token,
                    headers={"If-None-Match": f'"{first_sha}"'})
    assert again.status_code == 304
    # A resumed download: the rest of the file, if it is still the one the client has part of.
    rest = api.get(f"/ratings/{number}/certificate.pdf", token=firm_token,
                   headers={"Range": "bytes=100-", "If-Range": f'"{first_sha}"'})
    assert rest.status_code == 206 and rest.data == stored[key][100:]
    assert rest.headers["Content-Range"] == f"bytes 100-{first_size - 1}/{first_size}"
    changed = api.get(f"/ratings/{number}/certificate.pdf", token=firm_token,
                      headers={"Range": "bytes=100-", "If-Range": '"an-older-file"'})
    assert changed.status_code == 200 and changed.data == stored[key]
    past = api.get(f"/ratings/{number}/certificate.pdf", token=firm_token,
                   headers={"Range": f"bytes={first_size}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{first_size}"
    assert past.get_json()["error"]["code"] == "validation_error"
    assert api.get(f"/ratings/{number}/certificate.pdf", token=other_token).status_code == 404
    assert api.get(f"/ratings/{number}/certificate.pdf").status_code == 401
    assert disk.certificate_bytes(db.session.get(Rating, rating_id)) == stored[key]

    # A corrected name: a new object replaces the old one, which is removed once the row moved.
    db.session.get(Rating, rating_id).certified_name = "常州云端更名有限公司"
    db.session.commit()
    assert api.post(f"/ratings/{number}/certificate", token=people["city_official"]).status_code == 202
    assert certificates.render(rating_id) == "rendered"
    db.session.expire_all()
    second = db.session.get(Certificate, rating_id)
    stored = objects(bucket)
    new_key = f"{PREFIX}certificates/{number}/{second.sha256}.pdf"
    assert second.sha256 != first_sha and "常州云端更名有限公司" in pdf_text(stored[new_key]).splitlines()
    assert [k for k in stored if k.startswith(f"{PREFIX}certificates/")] == [new_key]
    assert api.get(f"/ratings/{number}/certificate.pdf", token=firm_token).data == stored[new_key]

    # The object vanished: the next render notices and writes a new generation.
    client, name = bucket
    client.delete_object(Bucket=name, Key=new_key)
    assert api.get(f"/ratings/{number}/certificate.pdf", token=firm_token).status_code == 409
    assert certificates.render(rating_id) == "rendered"
    assert new_key in objects(bucket)
    assert certificates.remove_stale_temporaries(timedelta(0)) == 0
    assert local_files(s3_app) == []


def test_a_byte_range_is_fetched_from_the_bucket_and_answered_206(api, s3_app, bucket):
    batch_ = make_batch("js-2024")
    _firm, token = api.register_firm(email="s3-range@example.com")
    application_id = api.post("/applications", {"batch_id": batch_.id, "target_level": 3},
                              token=token).get_json()["id"]
    content = PDF_BYTES + b"".join(b"%% line %04d of a long file\n" % n for n in range(100)) + b"%%EOF\n"
    size = len(content)
    stored = upload(api, token, application_id, content).get_json()
    url = f"/applications/{application_id}/evidence/{stored['id']}"
    client = logged_in(s3_app, "s3-range@example.com")

    for header, start, stop in [("bytes=10-19", 10, 20), ("bytes=0-0", 0, 1), ("bytes=100-", 100, size),
                                ("bytes=-7", size - 7, size), (f"bytes={size - 5}-{size + 100}", size - 5, size),
                                (f"bytes=-{size + 100}", 0, size)]:
        part = client.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.data == content[start:stop], header
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}", header
        assert int(part.headers["Content-Length"]) == stop - start
        assert part.headers["Content-Disposition"].startswith("attachment;")

    past = client.get(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{size}"
    # No Range, a HEAD, or a Range of several parts or malformed (RFC 9110 lets a server
    # ignore those): the whole file, as before.
    for header in (None, "bytes=0-1,5-6", "bytes=9-2", "items=0-1"):
        whole = client.get(url, headers={"Range": header} if header else {})
        assert whole.status_code == 200 and whole.data == content, header
        assert "Content-Range" not in whole.headers and int(whole.headers["Content-Length"]) == size
    head = client.head(url, headers={"Range": "bytes=0-9"})
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == size

    s3, name = bucket
    s3.delete_object(Bucket=name, Key=f"{PREFIX}evidence/{stored['sha256'][:2]}/{stored['sha256'][2:4]}/"
                                      f"{stored['sha256']}")
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 404
    assert local_files(s3_app) == []


def aged(path: Path, hours: float) -> Path:
    """`path` created, last written `hours` ago."""
    path.write_bytes(b"part of a file")
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))
    return path


def test_staged_files_of_killed_writes_are_swept(api, s3_app, monkeypatch, tmp_path):
    monkeypatch.setitem(s3_app.config, "STORAGE_DIR", str(tmp_path))   # a staging folder of its own
    staging = tmp_path / ".staging"
    staging.mkdir()
    killed = [aged(staging / name, 2) for name in (".upload-killed", ".tmp-killed", ".render-killed")]
    writing = aged(staging / ".upload-writing", 0.5)
    assert tasks.sweep_storage.run() == 3                 # beat's sweeper, on this host
    assert not any(path.exists() for path in killed) and list(staging.iterdir()) == [writing]
    assert tasks.sweep_storage.run() == 0

    # A web host's upload killed between staging and upload: beat's sweeper runs on another
    # host, so that host's own next write tidies up, at most every ten minutes a process.
    killed_upload = aged(staging / ".upload-killed", 2)
    batch_ = make_batch("js-2024")
    _firm, token = api.register_firm(email="s3-tidy@example.com")
    application_id = api.post("/applications", {"batch_id": batch_.id, "target_level": 3},
                              token=token).get_json()["id"]
    assert upload(api, token, application_id, PDF_BYTES + b"% after a kill\n").status_code == 201
    assert not killed_upload.exists() and list(staging.iterdir()) == [writing]
    killed_again = aged(staging / ".upload-killed-again", 2)
    assert upload(api, token, application_id, PDF_BYTES + b"% and again\n").status_code == 201
    assert killed_again.exists()                          # left to the next round


def test_export_file_is_built_into_the_bucket_downloaded_and_expired(api, s3_app, bucket, monkeypatch):
    firm, _token = api.register_firm("320402")
    grant_rating(firm["id"], 3, clock.today() - timedelta(days=10))
    db.session.commit()
    monkeypatch.setitem(s3_app.config, "EXPORT_ASYNC_ROWS", 0)
    official = make_staff("official", "320400")
    client = logged_in(s3_app, official.email)
    response = export(client, format="csv", status="")
    assert response.status_code == 302, response.text
    job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])

    assert export_jobs.build(job_id) == "csv 1 rows"
    db.session.expire_all()
    job = db.session.get(ExportJob, job_id)
    key = f"{PREFIX}exports/{job_id}.csv"
    stored = objects(bucket)
    assert job.state == "done" and job.file_name == f"{job_id}.csv" and job.size == len(stored[key])

    download = client.get(f"/exports/{job_id}/download")
    assert download.status_code == 200 and download.data == stored[key]
    assert "attachment" in download.headers["Content-Disposition"] and firm["name"] in download.data.decode()
    assert logged_in(s3_app, make_staff("official", "320400").email).get(
        f"/exports/{job_id}/download").status_code == 404
    assert local_files(s3_app) == []

    # A week later the file is removed from the bucket; the row stays as history.
    db.session.execute(update(ExportJob).where(ExportJob.id == job_id)
                       .values(finished_at=clock.now() - timedelta(days=8)))
    db.session.commit()
    assert export_jobs.remove_expired() == 1
    db.session.commit()
    assert key not in objects(bucket)
    gone = client.get(f"/exports/{job_id}/download")
    assert gone.status_code == 302


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_store_answers_503_and_doctor_says_so(api, s3_app, bucket, monkeypatch):
    batch_ = make_batch("js-2024")
    _firm, token = api.register_firm(email="s3-down@example.com")
    application_id = api.post("/applications", {"batch_id": batch_.id, "target_level": 3},
                              token=token).get_json()["id"]
    stored = upload(api, token, application_id, PDF_BYTES + b"% before the outage\n").get_json()
    ok, detail = blobstore.backend().check()
    assert ok and bucket[1] in detail

    monkeypatch.setitem(s3_app.config, "S3_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    assert blobstore.backend().check()[0] is False
    refused = upload(api, token, application_id, PDF_BYTES + b"% during the outage\n")
    assert refused.status_code == 503 and "文件存储暂时无法写入" in refused.get_json()["error"]["message"]
    url = f"/applications/{application_id}/evidence/{stored['id']}"
    download = logged_in(s3_app, "s3-down@example.com").get(url)
    assert download.status_code == 503 and download.headers["Retry-After"] == "5"
    monkeypatch.undo()

    db.session.rollback()
    assert [e.sha256 for e in db.session.execute(
        select(Evidence).where(Evidence.application_id == application_id)).scalars()] == [stored["sha256"]]
    assert local_files(s3_app) == []
