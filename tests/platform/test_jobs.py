"""One way to publish a job: recorded in the use case's transaction, published by task name
after the commit (once each, in order), forgotten when the transaction does not commit; a
broker that is down is logged and left to the sweepers, never an error for the caller."""
from __future__ import annotations

import logging

import pytest
from flask import Flask
from sqlalchemy import text

from rating.extensions import db
from rating.platform import jobs

pytestmark = pytest.mark.unit


class Broker:
    """Stands in for the Celery app: what `send_task` was asked to publish."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []
        self.down = False

    def send_task(self, name, args, **options):
        if self.down:
            raise ConnectionError("broker down")
        self.sent.append((name, tuple(args), options.get("countdown"), options.get("queue")))


@pytest.fixture()
def broker(tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "_last_failure", {"at": float("-inf")})
    app = Flask(__name__, instance_path=str(tmp_path))
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db.init_app(app)
    fake = Broker()
    app.extensions["celery"] = fake
    with app.app_context():
        yield fake
        db.session.remove()


def sent(broker) -> list[tuple]:
    return [(name, args) for name, args, _countdown, _queue in broker.sent]


def test_jobs_are_published_after_the_commit_once_each_in_order(broker):
    jobs.later(jobs.SCORE_APPLICATION, 7)
    db.session.execute(text("select 1"))
    jobs.later(jobs.RENDER_CERTIFICATE, 3)
    jobs.later(jobs.SCORE_APPLICATION, 7)
    assert broker.sent == []
    db.session.commit()
    assert sent(broker) == [(jobs.SCORE_APPLICATION, (7,)), (jobs.RENDER_CERTIFICATE, (3,))]
    db.session.execute(text("select 1"))
    db.session.commit()
    assert len(broker.sent) == 2   # a later commit publishes nothing again


@pytest.mark.parametrize("end", ["rollback", "close"])
@pytest.mark.parametrize("touched_database", [True, False])
def test_a_transaction_that_does_not_commit_forgets_its_jobs(broker, end, touched_database):
    if touched_database:
        db.session.execute(text("select 1"))
    jobs.later(jobs.ROUTE_APPLICATION, 5)
    getattr(db.session, end)()
    db.session.execute(text("select 1"))
    db.session.commit()
    assert broker.sent == []


def test_a_worker_task_publishes_the_jobs_of_all_its_commits_once_when_it_ends(broker):
    with jobs.collected_until_done():
        for _ in range(3):
            jobs.later(jobs.RENDER_CERTIFICATE, 2)
            db.session.commit()
        jobs.later(jobs.ROUTE_APPLICATION, 9)
        db.session.commit()
        assert broker.sent == []
    assert sent(broker) == [(jobs.RENDER_CERTIFICATE, (2,)), (jobs.ROUTE_APPLICATION, (9,))]


def test_a_broker_that_is_down_is_logged_and_the_commit_stands(broker, caplog):
    broker.down = True
    jobs.later(jobs.SCORE_APPLICATION, 1)
    with caplog.at_level(logging.WARNING, logger="rating.platform.jobs"):
        db.session.commit()
    assert "could not publish workers.tasks.score_application(1,); a sweeper will" in caplog.text
    broker.down = False
    assert jobs.publish(jobs.BUILD_EXPORT, 2, countdown=1.5, queue="mail")
    assert broker.sent == [(jobs.BUILD_EXPORT, (2,), 1.5, "mail")]


def test_a_task_with_its_own_publisher_is_handed_to_it(broker, monkeypatch):
    handed: list[tuple] = []
    monkeypatch.setitem(jobs._publishers, "workers.tasks.example", lambda *args: handed.append(args))
    jobs.later("workers.tasks.example", 4)
    db.session.commit()
    assert handed == [(4,)] and broker.sent == []
