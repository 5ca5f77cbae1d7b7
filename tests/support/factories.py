"""Test data built through the same services and API a firm or an official uses."""
from __future__ import annotations

import functools
import itertools
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from rating import clock
from rating.extensions import db
from rating.models import Batch, Rating, RatingStatus, User
from rating.rules.editions import Edition
from rating.rules.uscc import uscc_from_serial
from rating.services.accounts.signin import hash_password
from rating.demo import good_answer
from rating.services.reference import get_edition

PASSWORD = "Passw0rd-test"
_serial = itertools.count(100)


class Api:
    """A JSON client for /api/v1 with bearer tokens."""

    def __init__(self, client) -> None:
        self.client = client

    def _headers(self, token: str | None, headers: dict | None = None) -> dict:
        result = dict(headers or {})
        if token:
            result["Authorization"] = f"Bearer {token}"
        return result

    def get(self, path: str, token: str | None = None, headers: dict | None = None, **kwargs):
        return self.client.get(f"/api/v1{path}", headers=self._headers(token, headers), **kwargs)

    def post(self, path: str, json=None, token: str | None = None, headers: dict | None = None, **kwargs):
        return self.client.post(f"/api/v1{path}", json=json, headers=self._headers(token, headers), **kwargs)

    def patch(self, path: str, json=None, token: str | None = None, headers: dict | None = None, **kwargs):
        return self.client.patch(f"/api/v1{path}", json=json, headers=self._headers(token, headers), **kwargs)

    def put(self, path: str, json=None, token: str | None = None, headers: dict | None = None, **kwargs):
        return self.client.put(f"/api/v1{path}", json=json, headers=self._headers(token, headers), **kwargs)

    def delete(self, path: str, token: str | None = None, headers: dict | None = None, **kwargs):
        return self.client.delete(f"/api/v1{path}", headers=self._headers(token, headers), **kwargs)

    def token(self, email: str, password: str = PASSWORD) -> str:
        response = self.post("/tokens", {"email": email, "password": password})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]

    def register_firm(self, district: str = "320402", **overrides) -> tuple[dict, str]:
        serial = next(_serial)
        body = {
            "name": f"测试企业{serial}有限公司",
            "uscc": uscc_from_serial(serial, division=district),
            "district_code": district,
            "industry": "C",
            "scale": "small",
            "contact_name": "王工",
            "contact_phone": "0519-12345678",
            "email": f"firm{serial}@example.com",
            "password": PASSWORD,
            **overrides,
        }
        response = self.post("/enterprises", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json(), self.token(body["email"], body["password"])


def make_batch(edition: str = "js-2024", opens_in_days: int = -1, closes_in_days: int = 30,
               number: int | None = None) -> Batch:
    today = clock.today()
    zone = clock.zone()
    closes = datetime.combine(today + timedelta(days=closes_in_days), time(17, 30), zone)
    batch = Batch(
        name=f"{today.year}年度第{number or 1}批（测试）",
        province_code="320000",
        year=today.year,
        number=number or (db.session.query(Batch).count() + 1),
        edition_code=edition,
        opens_at=datetime.combine(today + timedelta(days=opens_in_days), time(0, 0), zone),
        closes_at=closes,
        usage_cutoff=today,
        investment_from=date(today.year - 1, 1, 1),
        investment_to=today,
    )
    db.session.add(batch)
    db.session.commit()
    return batch


@functools.cache
def password_hash() -> str:
    """One real hash of PASSWORD, computed once: hashing is deliberately slow."""
    return hash_password(PASSWORD)


def make_staff(role: str, jurisdiction: str | None, email: str | None = None) -> User:
    user = User(email=(email or f"{role}-{jurisdiction}-{next(_serial)}@bureau.example").lower(), role=role,
                password_hash=password_hash(), name=f"{role} {jurisdiction}",
                jurisdiction_code=jurisdiction)
    db.session.add(user)
    db.session.commit()
    return user


def grant_rating(enterprise_id: int, level: int, granted_on: date | None = None) -> Rating:
    granted = granted_on or clock.today() - timedelta(days=30)
    rating = Rating(enterprise_id=enterprise_id, level=level, year=granted.year, granted_on=granted,
                    valid_until=granted + timedelta(days=3 * 365), status=RatingStatus.valid)
    db.session.add(rating)
    db.session.commit()
    return rating


def favourable_answer(indicator):
    """The most favourable valid answer of an indicator, as JSON (the demo firm's answer)."""
    value = good_answer(indicator)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def good_services(batch: Batch, edition: Edition, level: int) -> list[dict]:
    """Services that pass every gate of the level: long in use, public, paid inside the window."""
    rule = edition.levels[level]
    started = batch.usage_cutoff - timedelta(days=400)
    per_payment = float(rule.min_investment_yuan) / 2 + 1000
    paid = [batch.investment_from + timedelta(days=40), batch.investment_to - timedelta(days=10)]
    services = [
        {"provider": "天翼云", "service_name": "云服务器与对象存储", "category": "iaas", "deployment": "public",
         "started_on": started.isoformat(), "ended_on": None,
         "payments": [{"paid_on": d.isoformat(), "amount": per_payment} for d in paid]},
        {"provider": "徐工汉云", "service_name": "设备上云平台", "category": "device", "deployment": "public",
         "started_on": started.isoformat(), "ended_on": None, "payments": []},
    ]
    return services


def good_application(batch: Batch, level: int) -> dict:
    edition = get_edition(batch.edition_code)
    answers = {i.code: favourable_answer(i) for i in edition.indicators_for(level)}
    services = good_services(batch, edition, level)
    total = sum(p["amount"] for s in services for p in s["payments"])
    if "declared_investment_yuan" in answers:
        answers["declared_investment_yuan"] = total
    return {"batch_id": batch.id, "target_level": level, "answers": answers, "cloud_services": services}


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
