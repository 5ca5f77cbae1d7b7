"""Scoring in batches on PostgreSQL: one job scores what waits, exactly once, as single jobs would."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from rating.extensions import db
from rating.models import (
    Application,
    ApplicationScore,
    AuditEntry,
    Enterprise,
    OutboxEmail,
    ReviewAssignment,
    ReviewerConflict,
    StatusChange,
    User,
)
from rating.platform import audit
from rating.services.review import assignments, scoring_runs
from tests.support.factories import make_staff
from tests.support.flows import file_everything

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_failures(monkeypatch):
    monkeypatch.setattr(scoring_runs, "_FAILED_ALONE", {})


def submitted(api, batch, district="320402") -> int:
    _firm, token = api.register_firm(district)
    body = file_everything(api, token, batch, 3)
    assert api.post(f"/applications/{body['id']}/submit", {"pledge": True}, token=token).status_code == 202
    return body["id"]


def statuses(ids) -> list[str]:
    db.session.expire_all()
    return [db.session.get(Application, i).status for i in ids]


def count(model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_one_job_scores_the_waiting_batch_and_the_others_find_theirs_done(api, batch):
    reviewers = [make_staff("reviewer", "320402").id for _ in range(3)]
    ids = [submitted(api, batch) for _ in range(7)]
    mail_before = count(OutboxEmail)
    assert scoring_runs.score_application(ids[0]) == "scored"
    assert statuses(ids) == ["in_review"] * 7
    assert [scoring_runs.score_application(i) for i in ids] == ["skipped"] * 7
    for application_id in ids:
        assert count(ApplicationScore, ApplicationScore.application_id == application_id) == 1
        assert count(StatusChange, StatusChange.application_id == application_id, StatusChange.action == "scored") == 1
        assert count(AuditEntry, AuditEntry.object_id == str(application_id),
                     AuditEntry.action == "application.scored") == 1
    assert audit.verify()[1] is None
    # Spread as single jobs spread them: the first three one to each, then 2, 2, 3.
    assignments = db.session.execute(select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id)
                                     .order_by(ReviewAssignment.application_id)).all()
    assert [a for a, _ in assignments] == ids
    loads = {r: 0 for r in reviewers}
    for _application, reviewer_id in assignments:
        loads[reviewer_id] += 1
    assert sorted(loads.values()) == [2, 2, 3]
    assert len({reviewer for _, reviewer in assignments[:3]}) == 3
    # Each firm hears of its own application (its user is its contact), each reviewer of
    # each application assigned to them.
    mail = db.session.execute(select(OutboxEmail.kind, OutboxEmail.application_id, OutboxEmail.to_address)
                              .order_by(OutboxEmail.id)).all()[mail_before:]
    firm_address = dict(db.session.execute(
        select(Application.id, Enterprise.email).join(Enterprise, Enterprise.id == Application.enterprise_id)
        .where(Application.id.in_(ids))).all())
    reviewer_address = {a: db.session.get(User, r).email for a, r in assignments}
    assert sorted(mail) == sorted([("status_changed", a, firm_address[a]) for a in ids]
                                  + [("assigned", a, reviewer_address[a]) for a in ids])


def test_batch_size_bounds_a_job_and_one_turns_batches_off(app, api, batch, monkeypatch):
    ids = [submitted(api, batch) for _ in range(5)]
    monkeypatch.setitem(app.config, "SCORING_BATCH_SIZE", 3)
    assert scoring_runs.score_application(ids[2]) == "scored"
    # The job's own application, then the oldest waiting.
    assert statuses(ids) == ["in_review", "in_review", "in_review", "submitted", "submitted"]
    monkeypatch.setitem(app.config, "SCORING_BATCH_SIZE", 1)
    assert scoring_runs.score_application(ids[4]) == "scored"
    assert statuses(ids)[3:] == ["submitted", "in_review"]


def test_submissions_another_worker_holds_are_left_to_it(api, batch):
    make_staff("reviewer", "320402")
    own, held, other = (submitted(api, batch) for _ in range(3))
    with db.engine.connect() as worker:
        worker.execute(text("SELECT id FROM applications WHERE id = :id FOR UPDATE"), {"id": held})
        assert scoring_runs.score_application(own) == "scored"
        assert statuses([own, held, other]) == ["in_review", "submitted", "in_review"]
        # Its own job finds it held: the holder scores it, not this job.
        assert scoring_runs.score_application(held) == "skipped"
        worker.rollback()                               # the holder died without scoring it
    assert scoring_runs.score_application(held) == "scored"
    assert count(ApplicationScore, ApplicationScore.application_id.in_([own, held, other])) == 3


def test_a_submission_that_fails_does_not_fail_the_batches_it_joins(api, batch, monkeypatch):
    first, poison, third = (submitted(api, batch) for _ in range(3))
    real_score = scoring_runs.score

    def score(edition, level, answers, services, window, **kwargs):
        if any(s.service_name == "poison" for s in services):
            raise ValueError("unexpected data")
        return real_score(edition, level, answers, services, window, **kwargs)

    db.session.execute(text("UPDATE cloud_services SET service_name = 'poison' WHERE application_id = :id"),
                       {"id": poison})
    db.session.commit()
    monkeypatch.setattr(scoring_runs, "score", score)
    # The batch [first, poison, third] fails; then each is scored alone but the bad one.
    assert scoring_runs.score_application(first) == "scored"
    assert statuses([first, poison, third]) == ["in_review", "submitted", "in_review"]
    # The bad one fails its own job (retried, then the sweeper's), and only its own ...
    with pytest.raises(ValueError):
        scoring_runs.score_application(poison)
    # ... and joins no other batch of this process.
    fourth, fifth = submitted(api, batch), submitted(api, batch)
    assert scoring_runs.score_application(fourth) == "scored"
    assert statuses([poison, fourth, fifth]) == ["submitted", "in_review", "in_review"]
    assert count(ApplicationScore, ApplicationScore.application_id == poison) == 0
    assert list(scoring_runs._FAILED_ALONE) == [poison]
    # Forgotten once it is no longer waiting for a score (withdrawn, or scored at last).
    db.session.execute(text("UPDATE applications SET status = 'withdrawn' WHERE id = :id"), {"id": poison})
    db.session.commit()
    assert scoring_runs.score_application(poison) == "skipped"
    assert scoring_runs._FAILED_ALONE == {}


def test_the_failures_remembered_are_bounded(monkeypatch):
    monkeypatch.setattr(scoring_runs, "_FAILED_ALONE_LIMIT", 3)
    for application_id in (1, 2, 3, 2, 4):
        scoring_runs._remember_failure(application_id)
    assert list(scoring_runs._FAILED_ALONE) == [3, 2, 4]


def test_conflicts_hold_inside_a_batch(api, batch):
    conflicted, free = make_staff("reviewer", "320402"), make_staff("reviewer", "320402").id
    assignments.declare_conflict(conflicted, enterprise_id=api.register_firm()[0]["id"])   # another firm
    db.session.commit()
    conflicted = conflicted.id
    ids = [submitted(api, batch) for _ in range(4)]
    firm_of_first = db.session.get(Application, ids[0]).enterprise_id
    db.session.add(ReviewerConflict(reviewer_id=conflicted, enterprise_id=firm_of_first))
    db.session.commit()
    assert scoring_runs.score_application(ids[3]) == "scored"
    reviewer_of = dict(db.session.execute(select(ReviewAssignment.application_id, ReviewAssignment.reviewer_id)).all())
    assert reviewer_of[ids[0]] == free
    # The rest balance around it: the free reviewer has two, the conflicted one two.
    assert sorted(list(reviewer_of.values()).count(r) for r in (conflicted, free)) == [2, 2]
