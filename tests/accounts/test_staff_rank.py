"""Who may give a staff account which role where (rating.permissions.can_manage_staff_as)."""
from __future__ import annotations

import pytest

from rating.models import Jurisdiction, User
from rating.permissions import can_manage_staff_as

pytestmark = pytest.mark.unit

PROVINCE = Jurisdiction(code="320000", level="province", province_code="320000", city_code=None)
CITY = Jurisdiction(code="320400", level="city", province_code="320000", city_code="320400")
COUNTY = Jurisdiction(code="320402", level="county", province_code="320000", city_code="320400")
OTHER_CITY = Jurisdiction(code="320100", level="city", province_code="320000", city_code="320100")


def person(role: str, where: Jurisdiction | None) -> User:
    return User(role=role, jurisdiction=where, active=True)


@pytest.mark.parametrize("actor, role, where, allowed", [
    (person("official", CITY), "reviewer", COUNTY, True),
    (person("official", CITY), "official", CITY, True),          # the same rank
    (person("official", CITY), "admin", None, False),           # never an administrator
    (person("official", CITY), "reviewer", PROVINCE, False),    # above the caller's division
    (person("official", CITY), "reviewer", OTHER_CITY, False),
    (person("official", COUNTY), "expert", CITY, False),
    (person("reviewer", CITY), "reviewer", COUNTY, False),       # reviewers manage no one
    (person("admin", None), "admin", None, True),
    (person("admin", None), "reviewer", OTHER_CITY, True),
    (person("official", CITY), "enterprise", COUNTY, False),
])
def test_rank_and_scope(actor, role, where, allowed):
    assert can_manage_staff_as(actor, role, where) is allowed
