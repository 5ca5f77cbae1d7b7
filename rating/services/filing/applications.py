"""Filing use cases: create, edit, attach evidence, submit, withdraw.

Each public function is one use case; it flushes, and its caller (the request) commits
once. The jobs a use case wants (scoring a submission) are recorded in its transaction
and published after that commit (`rating.platform.jobs`); they never talk to the broker
themselves.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from rating import clock
from rating.errors import Conflict, Forbidden, Ineligible, ValidationFailed
from rating.extensions import db
from rating.models import enums
from rating.models import (
    Application,
    ApplicationStatus,
    Batch,
    BlacklistEntry,
    CloudService,
    Enterprise,
    Evidence,
    Payment,
    Rating,
    RatingStatus,
    User,
)
from rating.permissions import acting_enterprise_id
from rating.rules import answers as answer_codec
from rating.rules.editions import Edition
from rating.rules.eligibility import check_progression
from rating.rules.scoring import ServiceIn
from rating.services.accounts import claims
from rating.services.batches import city_deadline_of
from rating.services.filing import history, snapshots
from rating.services.review import providers, routing
from rating.platform import jobs, storage
from rating.services.reference import get_batch, edition_of_batch

log = logging.getLogger(__name__)

EDITABLE = enums.EDITABLE
OPEN = enums.OPEN


@dataclass
class ApplicationInput:
    """Validated form data; None means "not given" (PATCH keeps the old value)."""

    batch_id: int | None = None
    target_level: int | None = None
    answers: dict[str, Any] | None = None  # code → normalised value (None clears)
    services: list[ServiceIn] | None = None
    version: int | None = None


@dataclass(frozen=True)
class Completeness:
    percent: int
    missing_answers: tuple[str, ...]
    missing_evidence: tuple[str, ...]
    has_services: bool

    @property
    def complete(self) -> bool:
        return not self.missing_answers and not self.missing_evidence and self.has_services


@dataclass
class Outcome:
    """A use case's result."""

    application: Application


def record(application: Application, actor: User | None, action: str, from_status: str | None,
           from_stage: str | None, comment: str | None = None, **audit_data) -> None:
    """The change the use case just made to `application` (history, audit, email)."""
    if application.id is None:
        db.session.flush()
    history.record_change(application.id, actor.id if actor is not None else None, action, from_status,
                          application.status, from_stage, application.stage, comment, **audit_data)


def held_levels(enterprise_id: int, on: date) -> set[int]:
    rows = db.session.execute(
        select(Rating.level).where(
            Rating.enterprise_id == enterprise_id,
            Rating.status == RatingStatus.valid,
            Rating.granted_on <= on,
            Rating.valid_until >= on,
        )
    ).scalars()
    return set(rows)


def ensure_eligible(enterprise: Enterprise, batch: Batch, edition: Edition, level: int,
                    application_id: int | None, first_submission: bool = True) -> None:
    """Raise Ineligible naming the rule that refuses this application, if any."""
    if level not in edition.levels:
        levels = "、".join(str(x) for x in sorted(edition.levels))
        raise Ineligible(
            _("指南 %(edition)s 没有 %(level)s 星级（可申报：%(levels)s 星）。",
              edition=edition.code, level=level, levels=levels),
            {"target_level": [_("星级不正确。")]},
        )
    if not batch.offers(level):
        raise Ineligible(_("本批次不受理 %(level)s 星级的申报。", level=level),
                         {"target_level": [_("星级不正确。")]})
    # The request's arrival, not the moment this line runs: see rating.clock. A city's own
    # deadline, inside the province's window, closes it earlier for that city's firms.
    city_closes = city_deadline_of(batch.id, enterprise.district_code) if first_submission else None
    if first_submission and not batch.is_open_at(clock.arrival(), city_closes):
        raise Ineligible(
            _("申报批次“%(batch)s”不在受理时间内（%(opens)s 至 %(closes)s）。",
              batch=batch.name,
              opens=clock.local(batch.opens_at).strftime("%Y-%m-%d %H:%M"),
              closes=clock.local(min(batch.closes_at, city_closes or batch.closes_at)).strftime("%Y-%m-%d %H:%M")),
            {"batch_id": [_("该批次未开放申报。")]},
        )
    blacklisted = db.session.execute(
        select(BlacklistEntry.reason).where(
            BlacklistEntry.enterprise_id == enterprise.id, BlacklistEntry.lifted_at.is_(None)
        )
    ).first()
    if blacklisted:
        raise Ineligible(_("企业已被列入黑名单，不能申报（原因：%(reason)s）。", reason=blacklisted.reason))
    other = db.session.execute(
        select(Application.id).where(
            Application.enterprise_id == enterprise.id,
            Application.batch_id == batch.id,
            Application.status != ApplicationStatus.withdrawn,
            Application.id != (application_id or 0),
        )
    ).first()
    if other:
        raise Ineligible(
            _("每家企业每个批次只能提交一份申报（已有申报 #%(id)s）。", id=other.id),
            {"batch_id": [_("本批次已有申报。")]},
        )
    violation = check_progression(edition, level, held_levels(enterprise.id, clock.today()))
    if violation is not None:
        raise Ineligible(violation.message.render(_), {"target_level": [violation.message.render(_)]})


def _check_answer_codes(edition: Edition, answers: dict[str, Any]) -> None:
    unknown = [code for code in answers if code not in {i.code for i in edition.indicators}]
    if unknown:
        raise ValidationFailed(
            _("未知的指标：%(codes)s", codes="、".join(unknown)),
            {f"answers.{code}": [_("该指标不在本批次的指南中。")] for code in unknown},
        )


def _apply(application: Application, edition: Edition, data: ApplicationInput) -> None:
    if data.target_level is not None:
        application.target_level = data.target_level
    if data.answers is not None:
        _check_answer_codes(edition, data.answers)
        merged = dict(application.answers or {})
        for code, value in data.answers.items():
            stored = answer_codec.to_storage(edition.indicator(code), value)
            if stored is None:
                merged.pop(code, None)
            else:
                merged[code] = stored
        application.answers = merged
    if data.services is not None:
        # Replacing the rows loads the old ones first; without autoflush that load does not
        # write the answers ahead of the rest (two UPDATEs, the version counted twice).
        with db.session.no_autoflush:
            application.services = _services(data)


def _services(data: ApplicationInput) -> list[CloudService]:
    return [
        CloudService(
            position=position,
            provider=s.provider,
            service_name=s.service_name,
            category=s.category,
            deployment=s.deployment,
            started_on=s.started_on,
            ended_on=s.ended_on,
            payments=[Payment(paid_on=p.paid_on, amount=p.amount) for p in s.payments],
        )
        for position, s in enumerate(data.services)
    ]


def _flush(conflict_message: str) -> None:
    """Flush; a concurrent change (stale version, unique key) becomes a 409 for the user."""
    try:
        db.session.flush()
    except (IntegrityError, StaleDataError):
        log.warning("flush refused as a conflict", exc_info=True)
        raise Conflict(conflict_message)


def create_application(user: User, data: ApplicationInput) -> Outcome:
    if acting_enterprise_id(user) is None:
        raise Forbidden(claims.pending_message())
    enterprise = user.enterprise
    batch = get_batch(data.batch_id) if data.batch_id is not None else None
    if batch is None:
        raise ValidationFailed(_("请选择申报批次。"), {"batch_id": [_("申报批次不存在。")]})
    if data.target_level is None:
        raise ValidationFailed(_("请选择申报星级。"), {"target_level": [_("请选择申报星级。")]})
    edition = edition_of_batch(batch.edition_code)
    ensure_eligible(enterprise, batch, edition, data.target_level, None)
    application = Application(
        enterprise=enterprise, batch=batch, target_level=data.target_level,
        status=ApplicationStatus.draft, answers={},
    )
    _apply(application, edition, data)
    db.session.add(application)
    record(application, user, "create", None, None)
    _flush(_("本批次已有申报，请勿重复创建。"))
    return Outcome(application)


def ensure_editable(application: Application, expected_version: int | None) -> None:
    if application.status not in EDITABLE:
        raise Conflict(
            _("申报当前状态为“%(status)s”，不能修改。", status=ApplicationStatus(application.status).label)
        )
    if expected_version is not None and expected_version != application.version:
        raise Conflict(_("申报已被他人修改，请刷新后重试。"), {"version": [_("版本已过期。")]})


def update_application(user: User, application: Application, data: ApplicationInput) -> Outcome:
    ensure_editable(application, data.version)
    edition = edition_of_batch(application.batch.edition_code)
    if data.target_level is not None and data.target_level != application.target_level:
        if application.status != ApplicationStatus.draft:
            raise Conflict(_("退回修改的申报不能更改申报星级。"), {"target_level": [_("不能更改。")]})
        ensure_eligible(application.enterprise, application.batch, edition, data.target_level,
                        application.id)
    _apply(application, edition, data)
    application.updated_at = clock.now()
    _flush(_("申报已被他人修改，请刷新后重试。"))
    return Outcome(application)


def add_evidence(user: User, application: Application, stream, filename: str | None,
                 indicator_code: str | None) -> Evidence:
    ensure_editable(application, None)
    edition = edition_of_batch(application.batch.edition_code)
    if indicator_code:
        try:
            edition.indicator(indicator_code)
        except KeyError:
            raise ValidationFailed(
                _("未知的指标：%(codes)s", codes=indicator_code),
                {"indicator_code": [_("该指标不在本批次的指南中。")]},
            )
    stored = storage.store_upload(stream)
    evidence = Evidence(
        application=application,
        indicator_code=indicator_code or None,
        filename=storage.safe_filename(filename),
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        uploaded_by_id=user.id,
    )
    db.session.add(evidence)
    _flush(_("申报已被他人修改，请刷新后重试。"))
    return evidence


def remove_evidence(user: User, application: Application, evidence: Evidence) -> None:
    ensure_editable(application, None)
    db.session.delete(evidence)
    _flush(_("申报已被他人修改，请刷新后重试。"))


def completeness(application: Application, edition: Edition) -> Completeness:
    applicable = edition.indicators_for(application.target_level)
    stored = application.answers or {}
    required = [i for i in applicable if i.required]
    missing_answers = tuple(i.code for i in required if not answer_codec.is_answered(stored.get(i.code)))
    with_evidence = {e.indicator_code for e in application.evidence}
    # Evidence is needed where the firm claims something (an answer) the bureau must check.
    needs_evidence = [
        i for i in applicable
        if i.evidence_required and (i.required or answer_codec.is_answered(stored.get(i.code)))
    ]
    missing_evidence = tuple(i.code for i in needs_evidence if i.code not in with_evidence)
    has_services = bool(application.services)
    parts = len(required) + len(needs_evidence) + 1
    done = parts - len(missing_answers) - len(missing_evidence) - (0 if has_services else 1)
    return Completeness(
        percent=int(100 * done / parts),
        missing_answers=missing_answers,
        missing_evidence=missing_evidence,
        has_services=has_services,
    )


def _blacklisted_providers(application: Application) -> list[str]:
    # By any name of a provider on the list: 阿里云计算有限公司 is 阿里云.
    names = set().union(*(providers.names_of(s.provider) for s in application.services))
    if not names:
        return []
    rows = db.session.execute(
        select(BlacklistEntry.provider_name).where(
            BlacklistEntry.provider_name.in_(names), BlacklistEntry.lifted_at.is_(None)
        )
    ).scalars()
    return sorted(set(rows))


def submit_application(user: User, application: Application, pledge: bool,
                       expected_version: int | None = None) -> Outcome:
    ensure_editable(application, expected_version)
    edition = edition_of_batch(application.batch.edition_code)
    first = application.status == ApplicationStatus.draft
    ensure_eligible(application.enterprise, application.batch, edition, application.target_level,
                    application.id, first_submission=first)
    fields: dict[str, list[str]] = {}
    state = completeness(application, edition)
    for code in state.missing_answers:
        fields[f"answers.{code}"] = [_("请填写此项。")]
    for code in state.missing_evidence:
        fields[f"evidence.{code}"] = [_("请上传该项的证明材料。")]
    if not state.has_services:
        fields["cloud_services"] = [_("请至少填写一项正在使用的云服务。")]
    if not pledge:
        fields["pledge"] = [_("请阅读并勾选诚信承诺。")]
    if fields:
        raise ValidationFailed(_("申报尚不完整，请补充标出的内容后再提交。"), fields)
    providers = _blacklisted_providers(application)
    if providers:
        raise Ineligible(
            _("云服务商“%(names)s”已被列入黑名单，其服务不能作为申报依据。", names="、".join(providers)),
            {"cloud_services": [_("含有黑名单服务商。")]},
        )
    from_status, from_stage = application.status, application.stage
    # The instant the deadline was judged by (ensure_eligible above), recorded as such.
    now = clock.arrival()
    if not first:
        application.resume_stage = application.stage
    application.status = ApplicationStatus.submitted
    application.stage = None
    application.submission_round += 1
    application.pledged_at = now
    application.submitted_at = now
    application.score_requested_at = now
    snapshots.take(application)
    record(application, user, "submit" if first else "resubmit", from_status, from_stage)
    # A broker that is down must not fail the submission: it is saved as submitted, and
    # the beat sweeper publishes the scoring job later (`jobs`).
    jobs.later(jobs.SCORE_APPLICATION, application.id)
    _flush(_("申报已被他人修改，请刷新后重试。"))
    return Outcome(application)


def withdraw_application(user: User, application: Application, comment: str | None = None) -> Outcome:
    if application.status not in OPEN:
        raise Conflict(
            _("申报当前状态为“%(status)s”，不能撤回。", status=ApplicationStatus(application.status).label)
        )
    from_status, from_stage = application.status, application.stage
    application.status = ApplicationStatus.withdrawn
    application.stage = None
    routing.close_open(application.id, "left_stage")
    record(application, user, "withdraw", from_status, from_stage, comment)
    _flush(_("申报已被他人修改，请刷新后重试。"))
    return Outcome(application)
