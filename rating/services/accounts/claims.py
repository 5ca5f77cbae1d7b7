"""Claims of imported firms: registering a credit code known only from an imported ratings
list creates the account at once, but the firm's record and ratings stay out of its reach
until an official of the firm's county confirms that the claimant is that firm.

The claim holds the record as the claimant typed it; approval applies it to the firm and
refuses (and deactivates) every other pending claim of the same firm; a refusal
deactivates the claimant's account. The scope of a claimant while its claim waits is
decided in one place: `rating.permissions.acting_enterprise_id`.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import case, false, select, update

from rating import clock
from rating.errors import Conflict, Forbidden, NotFound
from rating.extensions import db
from rating.models import ClaimStatus, Enterprise, EnterpriseClaim, Jurisdiction, Rating, Role, User
from rating.permissions import acts_everywhere, inside, is_official, unconfirmed_claim
from rating.platform import audit, outbox
from rating.services.reporting import aggregates

RECORD_FIELDS = ("name", "district_code", "industry", "scale", "contact_name", "contact_phone", "email")
MAX_LISTED = 500


def pending_message() -> str:
    return _("贵企业的认领正在等待所在县（市、区）主管部门确认。确认之前，不能查看该企业的星级认定和证书，"
             "也不能申报或修改企业信息。")


def claimable(enterprise: Enterprise) -> bool:
    """A firm known only from an imported ratings list: no record completed by a registration
    and no account but those of unconfirmed claims."""
    if enterprise.contact_name is not None:
        return False
    registered = db.session.execute(
        select(User.id).where(User.enterprise_id == enterprise.id, ~unconfirmed_claim(User.id)).limit(1)).first()
    return registered is None


def file_claim(enterprise: Enterprise, data: dict, email: str, password_hash: str) -> User:
    """The claimant's account and its pending claim, holding the record as typed; the firm's
    row is left as it is. Flushes; the caller commits."""
    record = {"name": data["name"].strip(), "district_code": data["district_code"], "industry": data["industry"],
              "scale": data["scale"], "contact_name": data["contact_name"].strip(),
              "contact_phone": data["contact_phone"].strip(), "email": email}
    user = User(email=email, password_hash=password_hash, name=record["contact_name"], role=Role.enterprise,
                enterprise_id=enterprise.id, is_firm_admin=True)   # the confirmed claimant administers the firm
    claim = EnterpriseClaim(enterprise_id=enterprise.id, user=user, status=ClaimStatus.pending, **record)
    db.session.add_all([user, claim])
    db.session.flush()
    audit.append("enterprise.claim", "enterprise", enterprise.id, user.id, claim_id=claim.id, email=email,
                 claimed=record)
    return user


def _decider(user: User) -> None:
    if not is_official(user):
        raise Forbidden(_("只有主管部门人员可以处理企业认领。"))


def _scoped(query, user: User):
    """Claims of firms registered inside the official's jurisdiction (an administrator
    without one: all)."""
    if acts_everywhere(user):
        return query
    scope = user.jurisdiction
    if scope is None:
        return query.where(false())
    return (query.join(Enterprise, Enterprise.id == EnterpriseClaim.enterprise_id)
            .join(Jurisdiction, Jurisdiction.code == Enterprise.district_code).where(inside(scope)))


def visible_claims(user: User, status: str | None = None) -> list[EnterpriseClaim]:
    """The claims `user` decides: pending first (oldest first), then the decided ones, newest first."""
    _decider(user)
    query = _scoped(select(EnterpriseClaim), user)
    if status is not None:
        query = query.where(EnterpriseClaim.status == status)
    waiting = EnterpriseClaim.status == ClaimStatus.pending
    query = query.order_by(case((waiting, 0), else_=1),
                           case((waiting, EnterpriseClaim.id), else_=-EnterpriseClaim.id))
    return list(db.session.execute(query.limit(MAX_LISTED)).scalars())


def visible_claim(user: User, claim_id: int) -> EnterpriseClaim:
    """The claim if `user` decides it; 404 otherwise (no existence leak)."""
    _decider(user)
    claim = None
    if isinstance(claim_id, int) and 0 < claim_id < 2**31:
        claim = db.session.execute(_scoped(select(EnterpriseClaim), user)
                                   .where(EnterpriseClaim.id == claim_id)).scalar_one_or_none()
    if claim is None:
        raise NotFound(_("未找到该认领申请。"))
    return claim


def rivals(claim: EnterpriseClaim) -> list[EnterpriseClaim]:
    """The firm's other claims that still wait."""
    return list(db.session.execute(
        select(EnterpriseClaim).where(EnterpriseClaim.enterprise_id == claim.enterprise_id,
                                      EnterpriseClaim.id != claim.id,
                                      EnterpriseClaim.status == ClaimStatus.pending)
        .order_by(EnterpriseClaim.id)).scalars())


def _lock_pending(user: User, claim_id: int) -> EnterpriseClaim:
    """The claim, with its firm's row locked (a firm's claims are decided one at a time),
    still pending; Conflict once decided."""
    claim = visible_claim(user, claim_id)
    db.session.execute(select(Enterprise.id).where(Enterprise.id == claim.enterprise_id).with_for_update())
    db.session.refresh(claim, with_for_update=True)
    if claim.status != ClaimStatus.pending:
        raise Conflict(_("该认领已处理（%(status)s），请刷新页面。", status=ClaimStatus(claim.status).label))
    return claim


def _decide(claim: EnterpriseClaim, status: str, decider: User | None, comment: str | None) -> None:
    claim.status = status
    claim.decided_at = clock.now()
    claim.decided_by_id = decider.id if decider is not None else None
    claim.comment = comment


def _deactivate(user_id: int) -> None:
    """The account ends: no login, no token, every browser session over."""
    db.session.execute(update(User).where(User.id == user_id)
                       .values(active=False, session_version=User.session_version + 1)
                       .execution_options(synchronize_session="fetch"))


def approve(user: User, claim_id: int, comment: str | None = None) -> EnterpriseClaim:
    """The claimant is the firm: its record becomes the firm's, its account sees the firm's
    ratings, and every other claim of the firm is refused."""
    claim = _lock_pending(user, claim_id)
    comment = (comment or "").strip() or None
    firm = db.session.get(Enterprise, claim.enterprise_id)
    before = {name: getattr(firm, name) for name in RECORD_FIELDS}
    for name in RECORD_FIELDS:
        setattr(firm, name, getattr(claim, name))
    _decide(claim, ClaimStatus.approved, user, comment)
    refused = rivals(claim)
    for other in refused:
        _decide(other, ClaimStatus.rejected, user, _("已确认另一认领为该企业。"))
        _deactivate(other.user_id)
    db.session.flush()
    if before["district_code"] != firm.district_code:
        # The firm's ratings count in its new county from now on (the certified county stays on each rating).
        aggregates.refresh_district(before["district_code"])
        aggregates.refresh_district(firm.district_code)
    audit.append("enterprise.claim_approve", "enterprise", firm.id, user.id, claim_id=claim.id,
                 claimant=claim.email, comment=comment, before=before,
                 after={name: getattr(firm, name) for name in RECORD_FIELDS},
                 refused_claims=[other.id for other in refused])
    for decided in (claim, *refused):
        outbox.queue_claim_decision(decided)
    return claim


def reject(user: User, claim_id: int, comment: str | None = None) -> EnterpriseClaim:
    """Not the firm: the claim is refused and the claimant's account deactivated."""
    claim = _lock_pending(user, claim_id)
    comment = (comment or "").strip() or None
    _decide(claim, ClaimStatus.rejected, user, comment)
    _deactivate(claim.user_id)
    audit.append("enterprise.claim_reject", "enterprise", claim.enterprise_id, user.id, claim_id=claim.id,
                 claimant=claim.email, comment=comment)
    outbox.queue_claim_decision(claim)
    db.session.flush()
    return claim


def claim_of(user: User) -> EnterpriseClaim | None:
    """The claim that created `user`'s account, if any."""
    return db.session.execute(select(EnterpriseClaim).where(EnterpriseClaim.user_id == user.id)).scalar_one_or_none()


def ratings_of_firms(firm_ids: set[int]) -> dict[int, list[Rating]]:
    """The ratings each firm holds (what an official weighs a claim against), newest first."""
    if not firm_ids:
        return {}
    held: dict[int, list[Rating]] = {}
    for rating in db.session.execute(select(Rating).where(Rating.enterprise_id.in_(sorted(firm_ids)))
                                     .order_by(Rating.granted_on.desc(), Rating.id.desc())).scalars():
        held.setdefault(rating.enterprise_id, []).append(rating)
    return held
