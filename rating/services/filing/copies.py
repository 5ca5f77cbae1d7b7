"""Filing again after a withdrawal: a new draft in the same batch as a copy of the withdrawn one.

What is copied: the target level, the answers, the declared cloud services with their payments,
and the evidence files (their records: files are stored by content hash, so the copy points at
the same stored file, nothing is written twice). Not copied: the history, scores, the pledge and
reviewers' work, which belong to the withdrawn application.
"""
from __future__ import annotations

from flask_babel import gettext as _

from rating.errors import Conflict
from rating.extensions import db
from rating.models import Application, ApplicationStatus, CloudService, Evidence, Payment, User
from rating.services.filing.applications import ApplicationInput, Outcome, create_application


def copy_withdrawn(user: User, withdrawn: Application) -> Outcome:
    if withdrawn.status != ApplicationStatus.withdrawn:
        raise Conflict(_("只有已撤回的申报可以复制为新申报。"))
    outcome = create_application(user, ApplicationInput(batch_id=withdrawn.batch_id,
                                                        target_level=withdrawn.target_level))
    application = outcome.application
    application.answers = dict(withdrawn.answers or {})
    application.services = [
        CloudService(position=s.position, provider=s.provider, service_name=s.service_name, category=s.category,
                     deployment=s.deployment, started_on=s.started_on, ended_on=s.ended_on,
                     payments=[Payment(paid_on=p.paid_on, amount=p.amount) for p in s.payments])
        for s in withdrawn.services
    ]
    for item in withdrawn.evidence:
        db.session.add(Evidence(application=application, indicator_code=item.indicator_code, filename=item.filename,
                                content_type=item.content_type, size=item.size, sha256=item.sha256,
                                uploaded_by_id=user.id))
    db.session.flush()
    return outcome
