"""A firm known only from an imported ratings list, and the body of a claim to it."""
from __future__ import annotations

from rating.rules.uscc import uscc_from_serial
from tests.support.factories import PASSWORD

IMPORTED = uscc_from_serial(9101, division="320402")
IMPORTED_NAME = "常州乙智造有限公司"
NUMBER = "CZ-2024-000123"


def claim_body(email: str, name: str = "常州乙智造科技有限公司", district: str = "320411") -> dict:
    return {"name": name, "uscc": IMPORTED, "district_code": district, "industry": "I", "scale": "medium",
            "contact_name": "王工", "contact_phone": "13800000000", "email": email, "password": PASSWORD}
