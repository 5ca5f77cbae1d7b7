"""Every state and kind has its own label, whatever other enums share its values."""
from __future__ import annotations

import pytest

from rating.models.enums import (
    ApplicationStatus,
    CertificateState,
    ClaimStatus,
    Decision,
    EntryOutcome,
    ExportState,
    JurisdictionLevel,
    LabelledEnum,
    OutboxStatus,
    Stage,
)

pytestmark = pytest.mark.unit


def _all_enums() -> list[type[LabelledEnum]]:
    return LabelledEnum.__subclasses__()


@pytest.mark.parametrize("enum", _all_enums(), ids=lambda enum: enum.__name__)
def test_every_member_has_a_label(enum):
    for member in enum:
        assert member.msgid, member


@pytest.mark.parametrize(("member", "msgid"), [
    # The same value in different enums: each keeps the label of its own enum.
    (ApplicationStatus.approved, "审核通过"),
    (ClaimStatus.approved, "已确认"),
    (ApplicationStatus.rejected, "未通过"),
    (ClaimStatus.rejected, "未予确认"),
    (ClaimStatus.pending, "待区县确认"),
    (CertificateState.pending, "证书生成中"),
    (OutboxStatus.pending, "待发送"),
    (CertificateState.failed, "证书生成失败"),
    (OutboxStatus.failed, "发送失败"),
    (ExportState.failed, "生成失败"),
    (ApplicationStatus.rated, "已认定"),
    (ApplicationStatus.held, "暂缓（异议处理中）"),
    (EntryOutcome.held, "暂缓"),
    (JurisdictionLevel.county, "县（市、区）"),
    (Stage.county, "县（市、区）工信局审核"),
    (JurisdictionLevel.city, "设区市"),
    (Stage.city, "设区市工信局评审"),
    (Decision.return_, "退回修改"),
])
def test_equal_values_of_different_enums_keep_their_own_labels(member, msgid):
    assert member.msgid == msgid


def test_members_compare_and_store_as_their_values():
    assert Decision.return_ == "return" and Decision("return") is Decision.return_
    assert OutboxStatus.sql_in() == "'pending', 'sending', 'sent', 'failed'"
