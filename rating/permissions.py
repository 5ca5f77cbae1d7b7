"""Who may see and do what: scope follows the division tree (county ⊂ city ⊂ province)."""
from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy import Select, exists, false, or_, select

from rating.extensions import db
from rating.models import (Application, ClaimStatus, CloudService, Enterprise, EnterpriseClaim, ExpertAssignment,
                           Jurisdiction, JurisdictionLevel, PublicityNotice, Rating, ReviewerConflict, Role, User)
from rating.rules import stages


# The roles, grouped by what they do; written here only.
# Officials act for a bureau (publish, revoke, quotas, exports, claims); administrators may do
# all of it everywhere.
OFFICIALS = (Role.official, Role.admin)
# Everyone who works for a bureau: reviewers, experts, officials, administrators.
STAFF = (Role.reviewer, Role.expert, Role.official, Role.admin)
# Who may see ratings and their certificates: the firm itself, and officials in scope.
RATING_VIEWERS = (Role.enterprise, *OFFICIALS)
# Who works a queue of applications assigned to them personally.
QUEUE_HOLDERS = (Role.reviewer, Role.expert)


def is_firm_user(user: User) -> bool:
    """Someone who files for a firm (whether their claim is confirmed: `acting_enterprise_id`)."""
    return user.is_authenticated and user.role == Role.enterprise


def can_see_ratings(user: User) -> bool:
    """The ratings pages: a firm's user (their own) and officials (those in their scope)."""
    return user.is_authenticated and user.role in RATING_VIEWERS


def has_own_queue(user: User) -> bool:
    """A reviewer or an expert: their queue lists what was assigned to them."""
    return user.is_authenticated and user.role in QUEUE_HOLDERS


def is_staff(user: User) -> bool:
    return user.is_authenticated and user.role != Role.enterprise


def is_official(user: User) -> bool:
    """An official or an administrator (scope is checked where the object is known)."""
    return user.is_authenticated and user.role in OFFICIALS


def acts_for(user: User, division: Jurisdiction) -> bool:
    """An official acts for the divisions inside their jurisdiction; an administrator for all."""
    if not is_official(user):
        return False
    if user.role == Role.admin:
        return True
    return user.jurisdiction is not None and user.jurisdiction.contains(division)


def acts_everywhere(user: User) -> bool:
    """An administrator without a jurisdiction: every division is in their scope."""
    return user.is_authenticated and user.role == Role.admin and user.jurisdiction is None


def staff_scope(user) -> Jurisdiction:
    """The jurisdiction a staff member sees: their own, or the province for an admin."""
    if user.jurisdiction is not None:
        return user.jurisdiction
    return db.session.execute(
        select(Jurisdiction).where(Jurisdiction.parent_code.is_(None)).order_by(Jurisdiction.code).limit(1)
    ).scalar_one()


def unconfirmed_claim(user_id):
    """SQL condition: the account was created by a claim of an imported firm that the
    county has not confirmed (pending, or refused)."""
    return select(EnterpriseClaim.id).where(EnterpriseClaim.user_id == user_id,
                                            EnterpriseClaim.status != ClaimStatus.approved).exists()


def acting_enterprise_id(user: User) -> int | None:
    """The firm a firm's user acts for, or None: not a firm's user, or one whose claim of an
    imported firm still awaits the county's confirmation. Every enterprise scope (its
    ratings, certificates, applications, held levels) is decided through here, so a pending
    claimant sees nothing of the firm it claims."""
    if not user.is_authenticated or user.role != Role.enterprise or user.enterprise_id is None:
        return None
    if not has_request_context():
        return _acting_enterprise_id(user)
    # Asked once per scope check, several times a request: answered once per request and
    # user (g may outlive a request when an app context was pushed around several).
    if g.get("acting_enterprise_request") is not request._get_current_object():
        g.acting_enterprise_request, g.acting_enterprise_ids = request._get_current_object(), {}
    if user.id not in g.acting_enterprise_ids:
        g.acting_enterprise_ids[user.id] = _acting_enterprise_id(user)
    return g.acting_enterprise_ids[user.id]


def _acting_enterprise_id(user: User) -> int | None:
    if db.session.execute(select(unconfirmed_claim(user.id))).scalar():
        return None
    return user.enterprise_id


def claim_pending(user: User) -> bool:
    """A firm's user whose claim of an imported firm awaits the county's confirmation."""
    return (user.is_authenticated and user.role == Role.enterprise and user.enterprise_id is not None
            and acting_enterprise_id(user) is None)


def inside(scope: Jurisdiction):
    """SQL condition on the Jurisdiction table: the division is `scope` or lies inside it."""
    if scope.level == JurisdictionLevel.province:
        return Jurisdiction.province_code == scope.code
    if scope.level == JurisdictionLevel.city:
        return Jurisdiction.city_code == scope.code
    return Jurisdiction.code == scope.code


def scope_applications(query: Select, user: User) -> Select:
    """Restrict a query over Application to what `user` may see."""
    if not user.is_authenticated:
        return query.where(false())
    if user.role == Role.admin:
        return query
    if user.role == Role.enterprise:
        firm = acting_enterprise_id(user)
        return query.where(false() if firm is None else Application.enterprise_id == firm)
    scope = user.jurisdiction
    if scope is None:
        return query.where(false())
    district = (select(Enterprise.id).join(Jurisdiction, Enterprise.district_code == Jurisdiction.code)
                .where(inside(scope)))
    query = query.where(Application.enterprise_id.in_(district))
    if user.role == Role.expert:
        # Experts see the applications they were asked to score, nothing else (DOMAIN.md).
        query = query.where(Application.id.in_(select(ExpertAssignment.application_id)
                                               .where(ExpertAssignment.expert_id == user.id)))
    return query


def scope_ratings(query: Select, user: User) -> Select:
    """Restrict a query over Rating joined to its Enterprise and that firm's Jurisdiction to
    what `user` may see: the firm its own (once its claim is confirmed), staff their scope."""
    if acts_everywhere(user):
        return query
    if is_firm_user(user):
        # A claimant of an imported firm sees none of its ratings until the county confirms.
        firm = acting_enterprise_id(user)
        return query.where(false() if firm is None else Rating.enterprise_id == firm)
    scope = user.jurisdiction if user.is_authenticated else None
    return query.where(false() if scope is None else inside(scope))


def can_view_application(user: User, application: Application) -> bool:
    if not user.is_authenticated:
        return False
    if user.role == Role.admin:
        return True
    if user.role == Role.enterprise:
        firm = acting_enterprise_id(user)
        return firm is not None and application.enterprise_id == firm
    scope = user.jurisdiction
    if scope is None or not scope.contains(application.enterprise.district):
        return False
    if user.role == Role.expert:
        return _assigned_expert(user, application)
    return True


def _assigned_expert(user: User, application: Application) -> bool:
    return db.session.execute(select(ExpertAssignment.id).where(
        ExpertAssignment.application_id == application.id, ExpertAssignment.expert_id == user.id).limit(1)
    ).first() is not None


def conflicted(reviewer_id, application: Application):
    """SQL condition: the reviewer declared a conflict with this application's firm, group or providers."""
    providers = select(CloudService.provider).where(CloudService.application_id == application.id)
    parties = [ReviewerConflict.enterprise_id == application.enterprise_id,
               ReviewerConflict.provider_name.in_(providers)]
    if application.enterprise.group_name:
        parties.append(ReviewerConflict.group_name == application.enterprise.group_name)
    return exists().where(ReviewerConflict.reviewer_id == reviewer_id, or_(*parties))


def has_conflict(user: User, application: Application) -> bool:
    return bool(db.session.execute(select(conflicted(user.id, application))).scalar())


def can_review(user: User, application: Application) -> bool:
    """A reviewer of the jurisdiction that owns the application's current stage, without a
    declared conflict (any of them may decide, not only the one it is assigned to)."""
    if not user.is_authenticated or user.role != Role.reviewer or application.stage is None:
        return False
    scope = user.jurisdiction
    return (scope is not None and scope.level == stages.owning_level(application.stage)
            and scope.contains(application.enterprise.district)
            and not has_conflict(user, application))


def can_manage_notice(user: User, notice: PublicityNotice) -> bool:
    """Officials of the notice's jurisdiction or above, and administrators without one."""
    if not is_official(user):
        return False
    if acts_everywhere(user):
        return True
    return user.jurisdiction is not None and user.jurisdiction.contains(notice.jurisdiction)


def can_edit_application(user: User, application: Application) -> bool:
    return (
        user.is_authenticated
        and user.role == Role.enterprise
        and acting_enterprise_id(user) == application.enterprise_id
    )


def can_see_all_imports(user: User) -> bool:
    """Everyone's ratings-list imports: administrators (an official sees their own)."""
    return user.is_authenticated and user.role == Role.admin


def can_manage_accounts(user: User) -> bool:
    """Sign another account out everywhere, deactivate or reactivate it: administrators."""
    return user.is_authenticated and user.role == Role.admin


# Staff accounts: who may invite and edit whom. An official manages reviewers, experts and
# officials inside their jurisdiction; an administrator manages everyone, administrators too.
STAFF_RANK = {Role.reviewer: 1, Role.expert: 1, Role.official: 2, Role.admin: 3}


def can_manage_staff(user: User) -> bool:
    """The staff pages and API: officials and administrators."""
    return is_official(user)


def can_manage_staff_as(user: User, role: str, jurisdiction: Jurisdiction | None) -> bool:
    """Whether `user` may give (or edit) a staff account with `role` in `jurisdiction`: a
    role no higher than their own (officials never make administrators) inside their scope."""
    if not is_official(user) or role not in STAFF_RANK:
        return False
    if user.role == Role.admin:
        return True
    return (STAFF_RANK[role] <= STAFF_RANK[Role(user.role)] and role != Role.admin
            and jurisdiction is not None and user.jurisdiction is not None
            and user.jurisdiction.contains(jurisdiction))


def can_manage_firm_users(user: User) -> bool:
    """A firm's administrator (its claim confirmed) invites colleagues and edits their accounts."""
    return is_firm_user(user) and user.is_firm_admin and acting_enterprise_id(user) is not None


def can_manage_editions(user: User) -> bool:
    """Upload a guide edition: administrators."""
    return user.is_authenticated and user.role == Role.admin


def can_manage_batches(user: User) -> bool:
    """Open, edit, extend or close a batch: province officials and administrators."""
    if not is_official(user):
        return False
    return user.role == Role.admin or (user.jurisdiction is not None
                                       and user.jurisdiction.level == JurisdictionLevel.province)


def can_set_city_deadline(user: User, city: Jurisdiction) -> bool:
    """A city's own filing deadline: that city's officials (and those above them, administrators)."""
    return (city.level == JurisdictionLevel.city and acts_for(user, city)
            and (user.role == Role.admin or user.jurisdiction.level != JurisdictionLevel.county))
