"""The embedded default of `make run`: SQLite database, SQLite-backed broker, and real web,
worker and beat processes, with nothing else running. A firm files through HTTP and the
worker scores it."""
from __future__ import annotations

import io
import time

import pytest
import requests

from tests.support.factories import PDF_BYTES, favourable_answer
from tests.support.servers import BIN, ROOT, Process, free_port, web, worker

pytestmark = pytest.mark.integration


@pytest.fixture()
def embedded(tmp_path):
    import os
    import subprocess

    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "STORAGE_DIR")}
    env.update({"INSTANCE_PATH": str(tmp_path / "instance"), "SWEEP_INTERVAL_SECONDS": "1",
                "SWEEP_GRACE_SECONDS": "2"})
    for command in (["db", "upgrade"], ["demo", "seed"]):
        done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *command], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    port = free_port()
    processes = []
    try:
        # Appended one by one: if one fails to start, the others are still stopped.
        processes.append(web(env, tmp_path, port))
        processes.append(worker(env, tmp_path))
        processes.append(Process([str(BIN / "celery"), "-A", "workers.celery_app", "beat", "--schedule",
                                  str(tmp_path / "beat-schedule")], env, "beat", tmp_path).start())
        yield f"http://127.0.0.1:{port}", done.stdout
    finally:
        for process in processes:
            process.stop()


def test_embedded_default_files_and_scores(embedded):
    base, seed_output = embedded
    assert "firm@demo.rating.test" in seed_output
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.json() == {"status": "ok", "database": "ok", "broker": "ok"}
    api = f"{base}/api/v1"
    token = requests.post(f"{api}/tokens", json={"email": "firm@demo.rating.test", "password": "Demo2026pass"},
                          timeout=10).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    batch = requests.get(f"{api}/batches", timeout=10).json()[0]
    assert batch["is_open"]
    edition = requests.get(f"{api}/guide-editions/{batch['guide_edition']}", timeout=10).json()

    class Indicator:  # the API's indicator as the factory helper expects it
        def __init__(self, data):
            self.type, self.max = data["type"], data["max"]
            self.options = [type("O", (), {"value": o["value"]}) for o in data["options"]]

    answers = {i["code"]: "2020-01-01" if i["type"] == "date" else favourable_answer(Indicator(i))
               for i in edition["indicators"] if 3 in i.get("levels", [3])}
    answers["declared_investment_yuan"] = 300000
    services = [{"provider": "天翼云", "service_name": "云主机", "category": "iaas", "deployment": "public",
                 "started_on": "2020-01-01", "ended_on": None,
                 "payments": [{"paid_on": batch["investment_to"], "amount": 300000}]}]
    created = requests.post(f"{api}/applications", json={"batch_id": batch["id"], "target_level": 3,
                                                          "answers": answers, "cloud_services": services},
                            headers=auth, timeout=10)
    assert created.status_code == 201, created.text
    application = created.json()
    for indicator in edition["indicators"]:
        if indicator["evidence_required"] and 3 in indicator.get("levels", [3]):
            uploaded = requests.post(f"{api}/applications/{application['id']}/evidence", headers=auth,
                                     files={"file": ("证明.pdf", io.BytesIO(PDF_BYTES), "application/pdf")},
                                     data={"indicator_code": indicator["code"]}, timeout=10)
            assert uploaded.status_code == 201, uploaded.text
    submitted = requests.post(f"{api}/applications/{application['id']}/submit", json={"pledge": True},
                              headers=auth, timeout=10)
    assert submitted.status_code == 202
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = requests.get(f"{api}/applications/{application['id']}", headers=auth, timeout=10).json()
        if body["status"] == "in_review":
            break
        time.sleep(0.5)
    assert body["status"] == "in_review" and body["stage"] == "county"
    assert body["score"]["passed"] is True
