"""Emails through a real SMTP server: queued with the change, delivered once, in the reader's language."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from rating.extensions import db
from rating.models import OutboxEmail, User
from rating.platform import mailer, outbox
from tests.support.factories import make_staff
from tests.support.flows import decide, scored
from tests.support.mail import body, subject

pytestmark = pytest.mark.integration


@pytest.fixture()
def mailbox(smtp_server):
    smtp_server.clear()
    return smtp_server


def pending() -> list[OutboxEmail]:
    db.session.rollback()
    return db.session.execute(select(OutboxEmail).where(OutboxEmail.status == "pending")
                              .order_by(OutboxEmail.id)).scalars().all()


def sent_count() -> int:
    return mailer.flush()["sent"]


def test_status_changes_and_assignments_are_mailed_once(api, batch, mailbox):
    reviewer = make_staff("reviewer", "320402")
    application_id, firm = scored(api, batch, 3)
    kinds = [(m.kind, m.to_address) for m in pending()]
    firm_email = api.get(f"/applications/{application_id}", token=firm).get_json()["enterprise_name"]
    assert [k for k, _ in kinds] == ["status_changed", "status_changed", "assigned"]   # submitted, in review
    assert kinds[2][1] == reviewer.email
    assert sent_count() == 3                                                     # one connection, one batch
    assert sent_count() == 0                                                     # a repeat sends nothing
    subjects = sorted(subject(m) for m in mailbox.messages)
    assert len(mailbox.messages) == 3
    assert any("审核中" in s for s in subjects) and any("新的审核任务" in s for s in subjects)
    to_firm = [m for m in mailbox.messages if m["To"] != reviewer.email]
    assert firm_email in body(to_firm[0]) and f"/applications/{application_id}" in body(to_firm[0])

    decide(api, api.token(reviewer.email), application_id, "return", "请补充设备清单")
    returned = pending()
    assert [m.kind for m in returned] == ["status_changed"]
    assert "请补充设备清单" in returned[0].body and "退回修改" in returned[0].subject
    log = api.get(f"/applications/{application_id}/emails", token=firm).get_json()
    assert [e["status"] for e in log] == ["sent", "sent", "pending"]       # the firm's own mail only
    log = api.get(f"/applications/{application_id}/emails", token=api.token(reviewer.email)).get_json()
    assert [(e["kind"], e["status"]) for e in log] == [
        ("status_changed", "sent"), ("status_changed", "sent"), ("assigned", "sent"), ("status_changed", "pending")]


def test_the_readers_language(api, batch, mailbox):
    application_id, firm = scored(api, batch, 3)
    user = db.session.execute(select(User).where(User.role == "enterprise")).scalar_one()
    user.locale = "en"
    db.session.commit()
    reviewer = make_staff("reviewer", "320402")
    decide(api, api.token(reviewer.email), application_id, "reject", "不符合基本条件")
    message = pending()[-1]
    assert message.locale == "en" and message.subject.startswith("[Star-rated cloud]")
    assert "Rejected" in message.subject or "not approved" in message.subject.lower()


def test_a_failed_change_queues_nothing(api, batch, mailbox):
    reviewer = make_staff("reviewer", "320402")
    application_id, _firm = scored(api, batch, 3)
    before = db.session.query(OutboxEmail).count()
    assert decide(api, api.token(reviewer.email), application_id, "forward", version=999).status_code == 409
    assert db.session.query(OutboxEmail).count() == before


def _later(monkeypatch, seconds: float) -> None:
    """The clock `seconds` ahead of what it reads now (as if that much time had passed)."""
    from datetime import timedelta

    from rating import clock

    moment = clock.now() + timedelta(seconds=seconds)
    monkeypatch.setattr(clock, "now", lambda: moment)


def _unreachable(app):
    class Down:
        def __enter__(self):
            self.port, app.config["MAIL_PORT"] = app.config["MAIL_PORT"], 1     # nothing listens there

        def __exit__(self, *exc):
            app.config["MAIL_PORT"] = self.port
    return Down()


def test_smtp_down_then_up(app, api, batch, mailbox, monkeypatch):
    scored(api, batch, 3)
    waiting = len(pending())
    with _unreachable(app), pytest.raises(mailer.DeliveryFailed):
        mailer.flush()
    messages = pending()
    assert len(messages) == waiting and all(m.attempts == 1 and "Connection" in m.last_error for m in messages)
    # Each waits for its next attempt (MAIL_RETRY_SECONDS): a flush now tries nothing, and
    # the sweeper does not take waiting for stranded.
    assert mailer.flush() == {"sent": 0, "failed": 0, "retry": 0} and not mailbox.messages
    assert outbox.stranded(timedelta(seconds=0)) == []
    _later(monkeypatch, app.config["MAIL_RETRY_SECONDS"] + 1)
    assert mailer.flush() == {"sent": waiting, "failed": 0, "retry": 0}
    assert len(mailbox.messages) == waiting


def test_while_the_server_is_down_a_flush_tries_only_what_is_due(app, api, batch, mailbox, monkeypatch):
    """An outage on a deadline day: every write's flush tries the new mail, not the whole
    backlog again; the backlog is tried by its own schedule, each delay twice the last."""
    scored(api, batch, 3)
    backlog = len(pending())
    with _unreachable(app):
        with pytest.raises(mailer.DeliveryFailed):
            mailer.flush()
        scored(api, batch, 3)                                 # more mail while the server is down
        with pytest.raises(mailer.DeliveryFailed):
            mailer.flush()
        tries = sorted(m.attempts for m in pending())
        assert tries == [1] * len(tries) and len(tries) > backlog      # the backlog was not tried again
        base = app.config["MAIL_RETRY_SECONDS"]
        _later(monkeypatch, base + 1)
        with pytest.raises(mailer.DeliveryFailed):
            mailer.flush()
        first = pending()
        assert {m.attempts for m in first} == {2}
        waits = {round((m.next_attempt_at - clock_now()).total_seconds()) for m in first}
        assert waits == {2 * base}
    _later(monkeypatch, 3 * base + 2)
    assert mailer.flush()["sent"] == len(first) == len(mailbox.messages)


def clock_now():
    from rating import clock

    return clock.now()


def test_an_unreachable_server_fails_no_message_and_waits_at_most_the_cap(app, api, batch, mailbox, monkeypatch):
    scored(api, batch, 3)
    limit = app.config["MAIL_MAX_ATTEMPTS"]
    for message in pending():
        message.attempts = limit + 5                            # long past the limit
    db.session.commit()
    with _unreachable(app), pytest.raises(mailer.DeliveryFailed):
        mailer.flush()
    messages = pending()
    assert messages and all(m.status == "pending" for m in messages)      # nothing given up
    assert {round((m.next_attempt_at - clock_now()).total_seconds()) for m in messages} == {
        app.config["MAIL_RETRY_MAX_SECONDS"]}
    assert mailer.retry_delay(1).total_seconds() == app.config["MAIL_RETRY_SECONDS"]
    assert mailer.retry_delay(10_000) == timedelta(seconds=app.config["MAIL_RETRY_MAX_SECONDS"])


def test_a_refused_recipient_is_tried_again_then_failed(app, api, batch, mailbox, monkeypatch):
    reviewer = make_staff("reviewer", "320402")
    scored(api, batch, 3)
    mailbox.refuse(reviewer.email)
    others = len(pending()) - 1
    counts = mailer.flush()
    assert counts == {"sent": others, "failed": 0, "retry": 1}          # the others are not held up
    (refused,) = pending()
    assert refused.to_address == reviewer.email and refused.last_error.startswith("refused")
    for attempt in range(2, app.config["MAIL_MAX_ATTEMPTS"] + 1):
        _later(monkeypatch, app.config["MAIL_RETRY_MAX_SECONDS"] + 1)      # past any delay
        assert mailer.flush() == {
            "sent": 0, "failed": int(attempt == app.config["MAIL_MAX_ATTEMPTS"]),
            "retry": int(attempt < app.config["MAIL_MAX_ATTEMPTS"])}
    db.session.refresh(refused)
    assert refused.status == "failed" and refused.attempts == app.config["MAIL_MAX_ATTEMPTS"]
    assert len(mailbox.messages) == others


def test_a_message_stuck_in_sending_is_picked_up_again(app, api, batch, mailbox):
    scored(api, batch, 3)
    stuck = pending()[0]
    stuck.status, stuck.claimed_at, stuck.attempts = "sending", clock_now() - timedelta(minutes=10), 1
    stuck.created_at = clock_now() - timedelta(minutes=10)
    db.session.commit()                      # as if its worker died mid-send
    others = len(pending())
    assert mailer.flush()["sent"] == others          # a flush leaves it alone…
    assert stuck.id in outbox.stranded(timedelta(seconds=60))   # …the sweeper returns it
    db.session.commit()
    assert mailer.flush()["sent"] == 1
    assert len(mailbox.messages) == others + 1


def test_one_flush_job_while_one_waits(app, redis_server):
    """Writers after the first find a flush queued and publish nothing; once that job starts
    (and clears the flag before claiming), the next writer publishes again."""
    import redis

    broker = redis.Redis.from_url(redis_server.url(1))
    assert broker.llen("mail") == 0
    asked = datetime.now(timezone.utc)
    for _ in range(5):
        outbox.request_flush()
    assert broker.llen("mail") == 1
    # It starts MAIL_FLUSH_DELAY_SECONDS later, taking all the mail written meanwhile.
    eta = datetime.fromisoformat(json.loads(broker.lindex("mail", 0))["headers"]["eta"])
    assert eta >= asked + timedelta(seconds=app.config["MAIL_FLUSH_DELAY_SECONDS"]) > asked
    assert 0 < broker.ttl(outbox.FLUSH_FLAG) <= outbox.FLUSH_FLAG_SECONDS
    outbox.flush_starting()
    outbox.request_flush()
    outbox.request_flush()
    assert broker.llen("mail") == 2


def test_mail_committed_while_a_flush_waits_is_sent_by_it(app, api, batch, mailbox, redis_server):
    """Many commits with mail, one job published: that job sends every message."""
    import redis

    from workers.tasks import flush_outbox

    make_staff("reviewer", "320402")
    ids = [scored(api, batch, 3)[0] for _ in range(3)]
    waiting = pending()
    assert {m.application_id for m in waiting} >= set(ids) and len(waiting) >= 6   # firm + reviewer each
    assert redis.Redis.from_url(redis_server.url(1)).llen("mail") == 1
    with app.app_context():
        assert flush_outbox.run()["sent"] == len(waiting)
    assert pending() == [] and len(mailbox.messages) == len(waiting)


def test_messages_encode_chinese_headers_and_accept_international_addresses(app, mailbox):
    """What the SMTP server receives decodes to the text written, whether the address is
    ASCII (the compat32 message) or not (the modern policy, sent with SMTPUTF8)."""
    import email
    import email.policy

    for address in ("firm@example.com", "联系人@例子.公司"):
        message = mailer._message(7, address, "【星级上云】申报状态：审核中", "尊敬的企业：\n您好。\n")
        raw = message if isinstance(message, bytes) else message.as_bytes()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert parsed["Subject"] == "【星级上云】申报状态：审核中"
        assert parsed["To"] == address
        assert parsed["From"].addresses[0].display_name == "星级上云评定系统"
        assert parsed["Message-ID"].startswith("<outbox-7@")
        assert parsed.get_content() == "尊敬的企业：\n您好。\n"


def test_a_flush_with_more_than_a_batch_waiting_asks_for_help_once(app, mailbox):
    """A full claim means more waits: the job publishes one helper (an idle worker process
    sends part of the rest; the claims never overlap). Less than a batch: no helper."""
    for n in range(5):
        outbox._queue("password_reset", f"user{n}@example.com", "zh_Hans_CN", None, name="用户", link="x",
                      minutes=60)
    db.session.commit()
    calls: list[int] = []
    assert mailer.flush(batch_size=2, more_waiting=lambda: calls.append(1))["sent"] == 5
    assert calls == [1] and len(mailbox.messages) == 5
    outbox._queue("password_reset", "last@example.com", "en", None, name="x", link="x", minutes=60)
    db.session.commit()
    assert mailer.flush(batch_size=2, more_waiting=lambda: calls.append(1))["sent"] == 1
    assert calls == [1]


def test_the_flush_job_publishes_its_helper_on_the_mail_queue(app, mailbox, redis_server):
    import redis

    from workers.tasks import flush_outbox

    for n in range(101):
        outbox._queue("password_reset", f"user{n}@example.com", "zh_Hans_CN", None, name="用户", link="x",
                      minutes=60)
    db.session.commit()
    broker = redis.Redis.from_url(redis_server.url(1))
    before = broker.llen("mail")
    assert flush_outbox.run()["sent"] == 101
    assert broker.llen("mail") == before + 1


def test_mail_left_waiting_is_flushed_from_the_main_queue(app, mailbox, redis_server):
    """Workers serve the main queue before `mail`; mail that has waited past the grace
    period gets its flush published on the main queue, so a long burst cannot hold it."""
    import redis

    from workers.tasks import sweep_outbox

    outbox._queue("password_reset", "late@example.com", "zh_Hans_CN", None, name="用户", link="x",
                  minutes=60)
    db.session.commit()
    grace = timedelta(seconds=app.config["SWEEP_GRACE_SECONDS"] + 1)
    long_ago = datetime.now(timezone.utc) - grace
    db.session.execute(update(OutboxEmail).values(created_at=long_ago, next_attempt_at=long_ago))
    db.session.commit()
    broker = redis.Redis.from_url(redis_server.url(1))
    main_before, mail_before = broker.llen("celery"), broker.llen("mail")
    assert sweep_outbox.run() == 1
    assert (broker.llen("celery"), broker.llen("mail")) == (main_before + 1, mail_before)
    assert json.loads(broker.lindex("celery", 0))["headers"]["task"] == "workers.tasks.flush_outbox"
