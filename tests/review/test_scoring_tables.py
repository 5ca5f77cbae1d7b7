"""The scoring function, table-driven: each indicator type, each gate, each flag, both editions."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from rating.rules.editions import load_edition_file
from rating.rules.indicator_points import indicator_points, months_of_use
from rating.rules.messages import Message
from rating.rules.scoring import BatchWindow, PaymentIn, ScoreResult, ServiceIn, score
from rating.demo import good_answer
from rating.services.reference import shipped_edition_paths

pytestmark = pytest.mark.unit

EDITIONS = {p.stem: load_edition_file(p) for p in shipped_edition_paths()}
WINDOW = BatchWindow(usage_cutoff=date(2024, 5, 31), investment_from=date(2023, 1, 1),
                     investment_to=date(2024, 5, 31))


def favourable(indicator):
    return good_answer(indicator, WINDOW.usage_cutoff)


def good(edition, level, deployment="public"):
    answers = {i.code: favourable(i) for i in edition.indicators_for(level)}
    services = [ServiceIn("天翼云", "云主机", "iaas", deployment, date(2021, 1, 10), None,
                          (PaymentIn(date(2023, 6, 1), Decimal(700_000)), PaymentIn(date(2024, 3, 1), Decimal(700_000))))]
    answers["declared_investment_yuan"] = Decimal(1_400_000)
    return answers, services


def gates(result: ScoreResult) -> dict[str, bool]:
    return {g.code: g.passed for g in result.gates}


@pytest.mark.parametrize("edition", sorted(EDITIONS))
@pytest.mark.parametrize("level", [3, 4, 5])
def test_a_complete_application_passes_every_level(edition, level):
    ed = EDITIONS[edition]
    answers, services = good(ed, level)
    result = score(ed, level, answers, services, WINDOW)
    assert result.passed, [g.message.render() for g in result.gates if not g.passed]
    assert result.total == result.max
    assert result.investment_yuan == Decimal("1400000.00")
    assert result.usage_months == 40
    assert not result.flags


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_only_indicators_of_the_level_count(edition):
    ed = EDITIONS[edition]
    answers, services = good(ed, 5)
    three = score(ed, 3, answers, services, WINDOW)
    five = score(ed, 5, answers, services, WINDOW)
    assert {i.code for i in three.items} < {i.code for i in five.items}
    assert three.max < five.max
    assert "device_count" not in {i.code for i in three.items}


@pytest.mark.parametrize("deployment, level, ok", [
    ("public", 3, True), ("private", 3, False), ("hybrid", 3, False),
    ("public", 4, True), ("private", 4, True), ("hybrid", 4, True), ("hybrid", 5, True),
])
def test_deployment_gate(deployment, level, ok):
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, level, deployment)
    result = score(ed, level, answers, services, WINDOW)
    assert gates(result)["deployment"] is ok
    assert result.passed is ok
    if not ok:
        message = next(g for g in result.gates if g.code == "deployment").message.render()
        assert "天翼云" in message


@pytest.mark.parametrize("started, ended, ok", [
    (date(2024, 2, 29), None, True),          # exactly 3 months at 2024-05-31 (month-end rule)
    (date(2024, 3, 1), None, False),          # 2 months
    (date(2021, 1, 1), date(2024, 5, 30), False),   # stopped before the cut-off
    (date(2023, 1, 1), date(2024, 5, 31), True),    # still in use on the cut-off day
    (date(2024, 6, 1), None, False),          # starts after the cut-off
])
def test_usage_gate(started, ended, ok):
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 3)
    services = [replace(services[0], started_on=started, ended_on=ended)]
    assert gates(score(ed, 3, answers, services, WINDOW))["min_usage"] is ok


def test_payments_outside_the_window_are_reported_not_counted():
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 3)
    services = [replace(services[0], payments=services[0].payments + (PaymentIn(date(2022, 12, 31), Decimal(5000)),
                                                                       PaymentIn(date(2024, 6, 1), Decimal(7000))))]
    answers["declared_investment_yuan"] = Decimal(1_412_000)
    result = score(ed, 3, answers, services, WINDOW)
    assert result.investment_yuan == Decimal("1400000.00")
    gate = next(g for g in result.gates if g.code == "payments_in_window")
    assert gate.passed is False and gate.blocking is False
    assert "2" in gate.message.render() and "12,000" in gate.message.render()
    assert result.passed  # advisory: the remaining investment still qualifies


@pytest.mark.parametrize("edition, level, amount, ok", [
    ("js-2024", 3, 99_999, False), ("js-2024", 3, 100_000, True),
    ("js-2022", 3, 50_000, True), ("js-2022", 3, 49_999, False),
    ("js-2024", 4, 499_999, False), ("js-2024", 5, 1_000_000, True),
])
def test_minimum_investment(edition, level, amount, ok):
    ed = EDITIONS[edition]
    answers, services = good(ed, level)
    services = [replace(services[0], payments=(PaymentIn(date(2024, 1, 1), Decimal(amount)),))]
    answers["declared_investment_yuan"] = Decimal(amount)
    assert gates(score(ed, level, answers, services, WINDOW))["min_investment"] is ok


@pytest.mark.parametrize("level, dimension", [(4, "device"), (5, "device"), (5, "data_model")])
def test_mandatory_dimensions(level, dimension):
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, level)
    for indicator in ed.indicators_for(level):
        if indicator.dimension == dimension:
            answers.pop(indicator.code)
    result = score(ed, level, answers, services, WINDOW)
    assert gates(result)[f"mandatory_{dimension}"] is False
    assert result.passed is False


def test_pass_mark_boundary():
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 3)
    full = score(ed, 3, answers, services, WINDOW)
    pass_score = ed.levels[3].pass_score
    # Drop optional points until exactly at or just under the mark.
    for code in ["infra_security", "effect_energy", "effect_defect", "platform_iam", "effect_cost_reduction",
                 "effect_efficiency", "platform_integration"]:
        answers.pop(code)
    lowered = score(ed, 3, answers, services, WINDOW)
    assert lowered.total < full.total
    shifted = replace(ed.levels[3], pass_score=lowered.total)
    at_mark = replace(ed, levels={**ed.levels, 3: shifted})
    assert gates(score(at_mark, 3, answers, services, WINDOW))["pass_score"] is True
    above = replace(ed, levels={**ed.levels, 3: replace(shifted, pass_score=lowered.total + Decimal("0.01"))})
    assert gates(score(above, 3, answers, services, WINDOW))["pass_score"] is False
    assert pass_score > 0


def test_required_answers_gate():
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 3)
    answers.pop("cloud_since")
    result = score(ed, 3, answers, services, WINDOW)
    assert gates(result)["required_answers"] is False
    assert "首次使用云服务" in next(g for g in result.gates if g.code == "required_answers").message.render()


def test_no_services():
    ed = EDITIONS["js-2024"]
    answers, _services = good(ed, 3)
    result = score(ed, 3, answers, [], WINDOW)
    assert gates(result)["services_declared"] is False and not result.passed
    assert result.investment_yuan == 0 and result.usage_months == 0


def _indicator(code):
    return EDITIONS["js-2024"].indicator(code)


@pytest.mark.parametrize("code, value, points", [
    ("platform_iip", True, 4), ("platform_iip", False, 0), ("platform_iip", None, 0),
    ("business_app_count", 0, 0), ("business_app_count", 1, 1), ("business_app_count", 4, 1),
    ("business_app_count", 5, 3), ("business_app_count", 10, 5), ("business_app_count", 10_000, 5),
    ("infra_migrated_share", Decimal("29.99"), 0), ("infra_migrated_share", Decimal(30), 2),
    ("infra_migrated_share", Decimal("89.9"), 4), ("infra_migrated_share", Decimal(90), 6),
    ("infra_database", "none", 0), ("infra_database", "relational", 3), ("infra_database", "distributed", 5),
    ("infra_database", "unheard-of", 0),
    ("infra_compute", ["vm"], 2), ("infra_compute", ["vm", "gpu"], 4), ("infra_compute", [], 0),
    ("infra_storage", ["object", "block", "file", "archive"], 5),   # 5 points of options, capped at 5
    ("infra_security", ["host", "network", "content", "data", "ddos", "waf"], 5),   # 6 capped at 5
    ("infra_compute", ["vm", "nonsense"], 2),
    ("effect_summary", "太短", 0), ("effect_summary", "上云" * 15, 3),
    ("cloud_since", date(2022, 5, 31), 3), ("cloud_since", date(2022, 6, 1), 0),
    ("cloud_since", date(2024, 6, 1), 0),
    ("declared_investment_yuan", Decimal(5), 0),
])
def test_indicator_points(code, value, points):
    got, reason = indicator_points(_indicator(code), value, WINDOW.usage_cutoff)
    assert got == points
    assert reason.render()


def test_chosen_options_are_named_in_the_reader_s_language():
    """The reason names the guide's options: in Chinese as the guide writes them, and with
    the guide's English labels when the catalogue translates the sentence."""
    english = {"已选择：%(labels)s（%(points)s 分）": "Chosen: %(labels)s (%(points)s points)",
               "已选择：%(labels)s（合计 %(raw)s 分，按上限计 %(points)s 分）":
                   "Chosen: %(labels)s (%(raw)s points in total, capped at %(points)s)",
               "已选择：%(label)s（%(points)s 分）": "Chosen: %(label)s (%(points)s points)"}
    translate = lambda template: english.get(template, template)   # noqa: E731
    _points, reason = indicator_points(_indicator("infra_compute"), ["vm", "gpu"], WINDOW.usage_cutoff)
    assert reason.render() == "已选择：云服务器、GPU云服务器（4 分）"
    assert reason.render(translate) == "Chosen: Cloud servers, GPU instances (4 points)"
    _points, reason = indicator_points(_indicator("infra_security"), ["host", "network", "content", "data", "ddos",
                                                                      "waf"], WINDOW.usage_cutoff)
    assert "capped at 5" in reason.render(translate) and "主机安全" not in reason.render(translate)
    _points, reason = indicator_points(_indicator("infra_database"), "distributed", WINDOW.usage_cutoff)
    assert "分布式" in reason.render() and "分布式" not in reason.render(translate)
    # A score stored before the English labels were kept still reads, in Chinese labels.
    stored = Message.from_storage({"t": "已选择：%(labels)s（%(points)s 分）", "p": {"labels": "云服务器", "points": "2"}})
    assert stored.render(translate) == "Chosen: 云服务器 (2 points)"


@pytest.mark.parametrize("started, until, months", [
    (date(2024, 1, 31), date(2024, 4, 30), 3),
    (date(2024, 1, 31), date(2024, 4, 29), 2),
    (date(2023, 2, 28), date(2024, 2, 28), 12),
    (date(2024, 2, 29), date(2025, 2, 28), 12),
    (date(2024, 2, 29), date(2025, 2, 27), 11),
    (date(2024, 5, 31), date(2024, 5, 31), 0),
    (date(2024, 6, 1), date(2024, 5, 31), 0),
    (date(2020, 1, 15), date(2024, 1, 14), 47),
])
def test_months_of_use(started, until, months):
    assert months_of_use(started, until) == months


def test_flags():
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 3)
    answers["declared_investment_yuan"] = Decimal(2_000_000)
    late = ServiceIn("某云", "晚开通服务", "saas", "public", date(2024, 7, 1), None,
                     (PaymentIn(date(2024, 1, 1), Decimal(100)),))
    result = score(ed, 3, answers, services + [late], WINDOW, shared_evidence=1)
    codes = {f.code for f in result.flags}
    assert codes == {"declared_investment_mismatch", "shared_evidence", "service_starts_after_cutoff",
                     "payment_before_service_start"}
    # Flags never change points.
    plain = score(ed, 3, {**answers, "declared_investment_yuan": Decimal(1_400_100)}, services + [late], WINDOW)
    assert plain.total == result.total


def test_declared_total_within_one_yuan_is_not_flagged():
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 3)
    answers["declared_investment_yuan"] = Decimal("1400000.99")
    assert not score(ed, 3, answers, services, WINDOW).flags


def test_storage_round_trip_and_translation():
    ed = EDITIONS["js-2024"]
    answers, services = good(ed, 4, "private")
    result = score(ed, 4, answers, services, WINDOW)
    again = ScoreResult.from_storage(result.to_storage())
    assert again.to_dict() == result.to_dict()
    translated = again.to_dict(lambda s: "EN " + s)
    assert all(g["message"].startswith("EN ") for g in translated["gates"])
    broken = again.to_dict(lambda s: s.replace("%(", "%(x"))   # a translation with wrong placeholders
    assert broken["gates"] == body_gates(result)
    body = result.to_dict()
    assert set(body) >= {"total", "max", "passed", "investment_yuan", "usage_months", "gates", "items", "flags"}
    assert all(set(i) >= {"code", "points", "max", "reason"} for i in body["items"])


def body_gates(result):
    return result.to_dict()["gates"]
