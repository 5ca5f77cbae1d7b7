"""Idempotent demo data: reference data, editions, a batch open today, demo accounts, and one
submitted application for the county reviewer."""
from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select

from rating import clock
from rating.extensions import db
from rating.models import Application, ApplicationStatus, Batch, Enterprise, Rating, RatingStatus, Role, User
from rating.rules.scoring import PaymentIn, ServiceIn
from rating.rules.uscc import uscc_from_serial
from rating.services.ratings import certificates, ratings
from rating.services.reporting import aggregates
from rating.services.filing import applications as filing
from rating.services.accounts.signin import hash_password
from rating.services.reference import (edition_of_batch, install_edition_file, load_divisions,
                                       shipped_edition_paths)

DEMO_PASSWORD = "Demo2026pass"
PROVINCE = "320000"

STAFF = [
    ("admin@demo.rating.test", Role.admin, None, "系统管理员"),
    ("province@demo.rating.test", Role.official, PROVINCE, "省工信厅 王处长"),
    # The city bureau has the final say on 3★ and 4★ (DOMAIN.md): it publishes their notices.
    ("city-official@demo.rating.test", Role.official, "320400", "常州市工信局 赵科长"),
    ("city-reviewer@demo.rating.test", Role.reviewer, "320400", "常州市工信局 李审核"),
    ("county-reviewer@demo.rating.test", Role.reviewer, "320402", "天宁区工信局 张审核"),
    ("expert@demo.rating.test", Role.expert, "320400", "评审专家 陈工"),
]

FIRMS = [
    # email, name, serial, district, held level
    ("firm@demo.rating.test", "常州示范智能制造有限公司", 1, "320402", None),
    ("firm3@demo.rating.test", "常州云上精密机械股份有限公司", 2, "320411", 3),
    ("filed@demo.rating.test", "常州示范云数据科技有限公司", 3, "320402", None),
]
# This firm's 3★ application is filed and submitted by the seed, so that the county
# reviewer has one to decide: the worker scores it and routes it to 天宁区.
FILER = "filed@demo.rating.test"
# A one-page PDF, the evidence the demo application attaches.
DEMO_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _demo_batch(edition_code: str) -> Batch:
    today = clock.today()
    zone = clock.zone()
    existing = db.session.execute(
        select(Batch).where(Batch.province_code == PROVINCE, Batch.year == today.year, Batch.number == 1)
    ).scalar_one_or_none()
    opens_at = datetime.combine(today - timedelta(days=1), time(0, 0), zone)
    closes_at = datetime.combine(today + timedelta(days=60), time(17, 30), zone)
    batch = existing or Batch(province_code=PROVINCE, year=today.year, number=1)
    if existing is None or not existing.is_open_at(clock.now()):
        # Keep the demo batch open today, whenever the seed runs.
        batch.name = f"{today.year}年度江苏省星级上云企业第一批（演示）"
        batch.edition_code = edition_code
        batch.opens_at = opens_at
        batch.closes_at = closes_at
        batch.usage_cutoff = closes_at.date()
        batch.investment_from = date(today.year - 1, 1, 1)
        batch.investment_to = closes_at.date()
        db.session.add(batch)
    return batch


def seed() -> list[str]:
    lines = [f"divisions: {load_divisions()}"]
    for path in shipped_edition_paths():
        lines.append(f"edition {path.stem}: {install_edition_file(path)}")
    batch = _demo_batch("js-2024")
    for email, role, jurisdiction, name in STAFF:
        if db.session.execute(select(User.id).where(User.email == email)).first() is None:
            db.session.add(User(email=email, password_hash=hash_password(DEMO_PASSWORD), name=name,
                                role=role, jurisdiction_code=jurisdiction))
    today = clock.today()
    for email, name, serial, district, level in FIRMS:
        uscc = uscc_from_serial(serial, division=district)
        firm = db.session.execute(select(Enterprise).where(Enterprise.uscc == uscc)).scalar_one_or_none()
        if firm is None:
            firm = Enterprise(name=name, uscc=uscc, district_code=district, industry="C", scale="medium",
                              contact_name="联系人", contact_phone="0519-88886666", email=email)
            db.session.add(firm)
        if db.session.execute(select(User.id).where(User.email == email)).first() is None:
            db.session.add(User(email=email, password_hash=hash_password(DEMO_PASSWORD), name=name,
                                role=Role.enterprise, enterprise=firm))
        if level is not None:
            db.session.flush()
            exists = db.session.execute(
                select(Rating.certificate_no).where(Rating.enterprise_id == firm.id, Rating.level == level)
            ).first()
            if exists is not None and exists.certificate_no:
                lines.append(f"demo rating {exists.certificate_no}: {firm.name}, {level}★ "
                             f"(/verify/{exists.certificate_no})")
            if exists is None:
                granted = date(today.year, 1, 15) if today >= date(today.year, 1, 15) else today
                number = ratings.certificate_number(batch.province_code, today.year, batch.number, level)
                rating = Rating(enterprise=firm, certified_name=firm.name, certified_district_code=firm.district_code,
                                level=level, year=today.year, granted_on=granted,
                                valid_until=granted.replace(year=granted.year + 3) - timedelta(days=1),
                                status=RatingStatus.valid, certificate_no=number, batch=batch,
                                reward_yuan=edition_of_batch(batch.edition_code).levels[level].reward_yuan)
                db.session.add(rating)
                db.session.flush()
                aggregates.refresh_firm(firm.id)     # the dashboards' stored counts, if any
                # The worker renders its certificate once the seed commits (or the sweeper later).
                certificates.request_render(rating)
                lines.append(f"demo rating {number}: {firm.name}, {level}★ (/verify/{number})")
    lines.append(_demo_filing(batch, FILER))
    lines.append(f"batch {batch.id}: {batch.name} ({batch.edition_code}), open until "
                 f"{clock.local(batch.closes_at):%Y-%m-%d %H:%M}")
    lines.append(f"demo accounts (password {DEMO_PASSWORD}):")
    lines += [f"  {role.value:<10} {email}" for email, role, _j, _n in STAFF]
    lines += [f"  enterprise {email}" for email, *_rest in FIRMS]
    return lines


def _demo_filing(batch: Batch, email: str) -> str:
    """`email`'s firm files a complete application for the first level of `batch`'s edition and
    submits it, through the services the web pages use; once, however often the seed runs."""
    user = db.session.execute(select(User).where(User.email == email)).scalar_one()
    filed = db.session.execute(
        select(Application).where(Application.enterprise_id == user.enterprise_id, Application.batch_id == batch.id,
                                  Application.status != ApplicationStatus.withdrawn)
    ).scalars().first()
    if filed is None:
        edition = edition_of_batch(batch.edition_code)
        level = min(edition.levels)     # what a firm without a rating may apply for
        today = clock.today()
        started = today - timedelta(days=400)
        amount = edition.levels[level].min_investment_yuan / 2 + 1000
        payments = (PaymentIn(started + timedelta(days=30), amount), PaymentIn(today - timedelta(days=10), amount))
        answers = {i.code: good_answer(i, today) for i in edition.indicators_for(level)}
        if "declared_investment_yuan" in answers:
            answers["declared_investment_yuan"] = 2 * amount
        services = [ServiceIn("天翼云", "云服务器与对象存储", "iaas", "public", started, None, payments)]
        filed = filing.create_application(user, filing.ApplicationInput(
            batch_id=batch.id, target_level=level, answers=answers, services=services)).application
        for indicator in edition.indicators_for(level):
            if indicator.evidence_required:
                filing.add_evidence(user, filed, io.BytesIO(DEMO_PDF), "证明材料.pdf", indicator.code)
        filing.submit_application(user, filed, pledge=True)   # its scoring job: after the commit
    return f"demo application #{filed.id}: {user.enterprise.name}, {filed.target_level}★, {filed.status}"


def good_answer(indicator, today: date | None = None):
    """The most favourable valid answer of a well-run firm, as the form gives it: every
    option, the top of a range (10,000 where there is none), three years on the cloud.
    (The tests file their applications with it too.)"""
    kind = indicator.type
    if kind == "boolean":
        return True
    if kind == "choice":
        return indicator.options[-1].value
    if kind == "multi_choice":
        return [option.value for option in indicator.options]
    if kind in ("integer", "decimal"):
        top = indicator.max if indicator.max is not None else Decimal(10_000)
        return int(top) if kind == "integer" else Decimal(top)
    if kind == "date":
        return (today or clock.today()) - timedelta(days=3 * 365)
    return ("研发设计、生产制造、供应链和客户服务已全面上云，建成数据中台，用设备数据优化排产和质量管理；"
            "上云后运营成本下降约百分之二十，新产品研发周期缩短三成，不良品率明显降低。")
