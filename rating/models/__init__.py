"""The persistent model, one module per aggregate."""
from rating.models.audit import AuditEntry, AuditHead, AuditVerified  # noqa: F401
from rating.models.application import (  # noqa: F401
    Application,
    ApplicationScore,
    CloudService,
    Evidence,
    Payment,
    StatusChange,
    SubmissionSnapshot,
)
from rating.models.enterprise import (  # noqa: F401
    BlacklistEntry, Enterprise, EnterpriseClaim, Provider, ProviderAlias)
from rating.models.enums import (  # noqa: F401
    ApplicationStatus,
    CertificateState,
    ClaimStatus,
    Decision,
    Deployment,
    Disbursement,
    EmailKind,
    EntryOutcome,
    ExportState,
    JurisdictionLevel,
    NoticeStatus,
    ObjectionStatus,
    OutboxStatus,
    RatingStatus,
    Role,
    Scale,
    ServiceCategory,
    Stage,
)
from rating.models.guide import Batch, BatchCityDeadline, GuideEdition  # noqa: F401
from rating.models.jurisdiction import Jurisdiction  # noqa: F401
from rating.models.mail import OutboxEmail  # noqa: F401
from rating.models.publicity import Objection, PublicityEntry, PublicityNotice  # noqa: F401
from rating.models.rating import (  # noqa: F401
    Certificate, CertificateSerial, CountedDay, CountedGrants, DistrictGrantCount, DistrictLevelCount, Rating)
from rating.models.review import (  # noqa: F401
    BatchQuota,
    ExpertAssignment,
    ReviewAssignment,
    ReviewerConflict,
    ScoreAdjustment,
)
from rating.models.user import ApiToken, User  # noqa: F401
from rating.models.export import ExportJob  # noqa: F401,E402
