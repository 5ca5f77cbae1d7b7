"""States and kinds, with their Chinese and English labels in one place."""
from __future__ import annotations

from enum import StrEnum

from flask_babel import gettext, lazy_gettext as _l

from rating.rules.messages import N_


class LabelledEnum(StrEnum):
    """A state or kind stored as its value, with a label found by its enum and value.

    Labels are looked up per enum: a StrEnum member equals (and hashes as) its value, so
    in one dict keyed by members ApplicationStatus.approved and ClaimStatus.approved
    would be one key and one enum's labels would replace the other's.
    """

    @property
    def label(self) -> str:
        """In the current locale."""
        return gettext(self.msgid)

    @property
    def msgid(self) -> str:
        """The label untranslated (the catalogue's key), for code that translates itself."""
        return _LABELS[type(self)][self.value]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)

    @classmethod
    def sql_in(cls) -> str:
        """The members as an SQL list, for CHECK constraints."""
        return ", ".join(f"'{m.value}'" for m in cls)


class JurisdictionLevel(LabelledEnum):
    province = "province"
    city = "city"
    county = "county"


class Role(LabelledEnum):
    enterprise = "enterprise"
    reviewer = "reviewer"
    expert = "expert"
    official = "official"
    admin = "admin"


class ApplicationStatus(LabelledEnum):
    draft = "draft"
    submitted = "submitted"
    in_review = "in_review"
    returned = "returned"
    approved = "approved"
    publicity = "publicity"
    held = "held"
    rated = "rated"
    rejected = "rejected"
    withdrawn = "withdrawn"


# The firm may still change an application in these; in OPEN it is not decided for good.
EDITABLE = (ApplicationStatus.draft, ApplicationStatus.returned)
OPEN = (ApplicationStatus.draft, ApplicationStatus.submitted, ApplicationStatus.in_review, ApplicationStatus.returned)


class Stage(LabelledEnum):
    county = "county"
    city = "city"
    province = "province"


class RatingStatus(LabelledEnum):
    valid = "valid"
    revoked = "revoked"
    superseded = "superseded"
    expired = "expired"


class CertificateState(LabelledEnum):
    pending = "pending"
    ready = "ready"
    failed = "failed"


class Disbursement(LabelledEnum):
    due = "due"
    paid = "paid"
    withheld = "withheld"


class ClaimStatus(LabelledEnum):
    """A claim of a firm known only from an imported ratings list (EnterpriseClaim)."""
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Decision(LabelledEnum):
    """What a review stage decides (which of these a stage may: review.allowed_decisions)."""
    forward = "forward"
    approve = "approve"
    return_ = "return"
    reject = "reject"


class NoticeStatus(LabelledEnum):
    open = "open"
    closed = "closed"


class EntryOutcome(LabelledEnum):
    """Where an application on a public notice stands."""
    listed = "listed"
    rated = "rated"
    held = "held"
    removed = "removed"


class ObjectionStatus(LabelledEnum):
    open = "open"
    dismissed = "dismissed"
    upheld = "upheld"


class OutboxStatus(LabelledEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class EmailKind(LabelledEnum):
    """The outbox's kinds of message, each the name of its template in templates/email/."""
    status_changed = "status_changed"
    certificate_ready = "certificate_ready"
    claim_decided = "claim_decided"
    password_reset = "password_reset"  # nosec B105 (the name of an email, not a password)
    invitation = "invitation"   # a new account's set-password link (staff or a firm's colleague)
    assigned = "assigned"
    reminder = "reminder"
    overdue = "overdue"


class ExportState(LabelledEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Scale(LabelledEnum):
    large = "large"
    medium = "medium"
    small = "small"
    micro = "micro"


class ServiceCategory(LabelledEnum):
    iaas = "iaas"
    paas = "paas"
    saas = "saas"
    industrial_app = "industrial_app"
    device = "device"


class Deployment(LabelledEnum):
    public = "public"
    private = "private"
    hybrid = "hybrid"


# GB/T 4754-2017 sections.
INDUSTRY_SECTIONS = {
    "A": _l("农、林、牧、渔业"),
    "B": _l("采矿业"),
    "C": _l("制造业"),
    "D": _l("电力、热力、燃气及水生产和供应业"),
    "E": _l("建筑业"),
    "F": _l("批发和零售业"),
    "G": _l("交通运输、仓储和邮政业"),
    "H": _l("住宿和餐饮业"),
    "I": _l("信息传输、软件和信息技术服务业"),
    "J": _l("金融业"),
    "K": _l("房地产业"),
    "L": _l("租赁和商务服务业"),
    "M": _l("科学研究和技术服务业"),
    "N": _l("水利、环境和公共设施管理业"),
    "O": _l("居民服务、修理和其他服务业"),
    "P": _l("教育"),
    "Q": _l("卫生和社会工作"),
    "R": _l("文化、体育和娱乐业"),
    "S": _l("公共管理、社会保障和社会组织"),
    "T": _l("国际组织"),
}

# Per enum (see LabelledEnum): within one enum no two members share a value.
_LABELS: dict[type[LabelledEnum], dict[str, str]] = {
    JurisdictionLevel: {
        JurisdictionLevel.province: N_("省"),
        JurisdictionLevel.city: N_("设区市"),
        JurisdictionLevel.county: N_("县（市、区）"),
    },
    Role: {
        Role.enterprise: N_("企业用户"),
        Role.reviewer: N_("审核人员"),
        Role.expert: N_("评审专家"),
        Role.official: N_("主管部门人员"),
        Role.admin: N_("系统管理员"),
    },
    ApplicationStatus: {
        ApplicationStatus.draft: N_("草稿"),
        ApplicationStatus.submitted: N_("已提交，待评分"),
        ApplicationStatus.in_review: N_("审核中"),
        ApplicationStatus.returned: N_("退回修改"),
        ApplicationStatus.approved: N_("审核通过"),
        ApplicationStatus.publicity: N_("公示中"),
        ApplicationStatus.held: N_("暂缓（异议处理中）"),
        ApplicationStatus.rated: N_("已认定"),
        ApplicationStatus.rejected: N_("未通过"),
        ApplicationStatus.withdrawn: N_("已撤回"),
    },
    Stage: {
        Stage.county: N_("县（市、区）工信局审核"),
        Stage.city: N_("设区市工信局评审"),
        Stage.province: N_("省工信厅评审"),
    },
    RatingStatus: {
        RatingStatus.valid: N_("有效"),
        RatingStatus.revoked: N_("已撤销"),
        RatingStatus.superseded: N_("已被更高星级取代"),
        RatingStatus.expired: N_("已过期"),
    },
    CertificateState: {
        CertificateState.pending: N_("证书生成中"),
        CertificateState.ready: N_("证书已生成"),
        CertificateState.failed: N_("证书生成失败"),
    },
    Disbursement: {
        Disbursement.due: N_("待拨付"),
        Disbursement.paid: N_("已拨付"),
        Disbursement.withheld: N_("不予拨付"),
    },
    ClaimStatus: {
        ClaimStatus.pending: N_("待区县确认"),
        ClaimStatus.approved: N_("已确认"),
        ClaimStatus.rejected: N_("未予确认"),
    },
    Decision: {
        Decision.forward: N_("报送上级"),
        Decision.approve: N_("审核通过"),
        Decision.return_: N_("退回修改"),
        Decision.reject: N_("不予通过"),
    },
    NoticeStatus: {
        NoticeStatus.open: N_("进行中"),
        NoticeStatus.closed: N_("已结束"),
    },
    EntryOutcome: {
        EntryOutcome.listed: N_("公示中"),
        EntryOutcome.rated: N_("已认定"),
        EntryOutcome.held: N_("暂缓"),
        EntryOutcome.removed: N_("已撤出"),
    },
    ObjectionStatus: {
        ObjectionStatus.open: N_("待处理"),
        ObjectionStatus.dismissed: N_("异议不成立"),
        ObjectionStatus.upheld: N_("异议成立"),
    },
    OutboxStatus: {
        OutboxStatus.pending: N_("待发送"),
        OutboxStatus.sending: N_("发送中"),
        OutboxStatus.sent: N_("已发送"),
        OutboxStatus.failed: N_("发送失败"),
    },
    EmailKind: {
        EmailKind.status_changed: N_("状态变化"),
        EmailKind.certificate_ready: N_("证书已生成"),
        EmailKind.claim_decided: N_("企业认领"),
        EmailKind.password_reset: N_("找回密码"),
        EmailKind.invitation: N_("账户邀请"),
        EmailKind.assigned: N_("审核任务指派"),
        EmailKind.reminder: N_("审核到期提醒"),
        EmailKind.overdue: N_("逾期"),
    },
    ExportState: {
        ExportState.queued: N_("排队中"),
        ExportState.running: N_("生成中"),
        ExportState.done: N_("已完成"),
        ExportState.failed: N_("生成失败"),
    },
    Scale: {
        Scale.large: N_("大型"),
        Scale.medium: N_("中型"),
        Scale.small: N_("小型"),
        Scale.micro: N_("微型"),
    },
    ServiceCategory: {
        ServiceCategory.iaas: N_("基础设施服务（IaaS）"),
        ServiceCategory.paas: N_("平台服务（PaaS）"),
        ServiceCategory.saas: N_("软件服务（SaaS）"),
        ServiceCategory.industrial_app: N_("工业APP"),
        ServiceCategory.device: N_("设备上云服务"),
    },
    Deployment: {
        Deployment.public: N_("公有云"),
        Deployment.private: N_("私有云"),
        Deployment.hybrid: N_("混合云"),
    },
}


# The units the guide editions give their numeric indicators (data, written in Chinese), as
# the page's language names them; a unit not listed is shown as written.
UNITS = frozenset({N_("个"), N_("台"), N_("元"), N_("万元"), N_("人"), N_("家")})


def unit_label(unit: str | None) -> str:
    if not unit:
        return ""
    return gettext(unit) if unit in UNITS else unit
