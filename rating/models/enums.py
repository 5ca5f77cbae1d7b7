"""States and kinds, with their Chinese and English labels in one place."""
from __future__ import annotations

from enum import StrEnum

from flask_babel import lazy_gettext as _l


class LabelledEnum(StrEnum):
    @property
    def label(self) -> str:
        return str(_LABELS[self])

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

_LABELS = {
    JurisdictionLevel.province: _l("省"),
    JurisdictionLevel.city: _l("设区市"),
    JurisdictionLevel.county: _l("县（市、区）"),
    Role.enterprise: _l("企业用户"),
    Role.reviewer: _l("审核人员"),
    Role.expert: _l("评审专家"),
    Role.official: _l("主管部门人员"),
    Role.admin: _l("系统管理员"),
    ApplicationStatus.draft: _l("草稿"),
    ApplicationStatus.submitted: _l("已提交，待评分"),
    ApplicationStatus.in_review: _l("审核中"),
    ApplicationStatus.returned: _l("退回修改"),
    ApplicationStatus.approved: _l("审核通过"),
    ApplicationStatus.publicity: _l("公示中"),
    ApplicationStatus.held: _l("暂缓（异议处理中）"),
    ApplicationStatus.rated: _l("已认定"),
    ApplicationStatus.rejected: _l("未通过"),
    ApplicationStatus.withdrawn: _l("已撤回"),
    Stage.county: _l("县（市、区）工信局审核"),
    Stage.city: _l("设区市工信局评审"),
    Stage.province: _l("省工信厅评审"),
    RatingStatus.valid: _l("有效"),
    RatingStatus.revoked: _l("已撤销"),
    RatingStatus.superseded: _l("已被更高星级取代"),
    RatingStatus.expired: _l("已过期"),
    CertificateState.pending: _l("证书生成中"),
    CertificateState.ready: _l("证书已生成"),
    CertificateState.failed: _l("证书生成失败"),
    Disbursement.due: _l("待拨付"),
    Disbursement.paid: _l("已拨付"),
    Disbursement.withheld: _l("不予拨付"),
    Scale.large: _l("大型"),
    Scale.medium: _l("中型"),
    Scale.small: _l("小型"),
    Scale.micro: _l("微型"),
    ServiceCategory.iaas: _l("基础设施服务（IaaS）"),
    ServiceCategory.paas: _l("平台服务（PaaS）"),
    ServiceCategory.saas: _l("软件服务（SaaS）"),
    ServiceCategory.industrial_app: _l("工业APP"),
    ServiceCategory.device: _l("设备上云服务"),
    Deployment.public: _l("公有云"),
    Deployment.private: _l("私有云"),
    Deployment.hybrid: _l("混合云"),
}
