"""Scoring: a pure function of (edition, level, answers, services, batch window).

No Flask, no database. Every point comes with a reason, every gate with a message,
and the messages are stored untranslated (template + parameters) so that the firm and
the reviewer read them in their own language later.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from rating.rules.editions import Edition
from rating.rules.indicator_points import indicator_points, months_of_use, threshold_points
from rating.rules.messages import N_, Message, ngettext, plain

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PaymentIn:
    paid_on: date
    amount: Decimal


@dataclass(frozen=True)
class ServiceIn:
    provider: str
    service_name: str
    category: str
    deployment: str
    started_on: date
    ended_on: date | None
    payments: tuple[PaymentIn, ...] = ()


@dataclass(frozen=True)
class BatchWindow:
    usage_cutoff: date
    investment_from: date
    investment_to: date


@dataclass(frozen=True)
class Gate:
    code: str
    passed: bool
    message: Message
    blocking: bool = True


@dataclass(frozen=True)
class Item:
    code: str
    dimension: str
    points: Decimal
    max: Decimal
    reason: Message


@dataclass(frozen=True)
class Flag:
    code: str
    message: Message


@dataclass(frozen=True)
class ScoreResult:
    level: int
    total: Decimal
    max: Decimal
    passed: bool
    investment_yuan: Decimal
    usage_months: int
    gates: tuple[Gate, ...]
    items: tuple[Item, ...]
    flags: tuple[Flag, ...]
    dimensions: Mapping[str, tuple[Decimal, Decimal]] = field(hash=False)

    def to_dict(self, translate: Callable[[str], str] = lambda s: s) -> dict:
        return {
            "total": plain(self.total),
            "max": plain(self.max),
            "passed": self.passed,
            "investment_yuan": plain(self.investment_yuan),
            "usage_months": self.usage_months,
            "gates": [{"code": g.code, "passed": g.passed, "message": g.message.render(translate),
                       "blocking": g.blocking} for g in self.gates],
            "items": [{"code": i.code, "points": plain(i.points), "max": plain(i.max),
                       "reason": i.reason.render(translate), "dimension": i.dimension} for i in self.items],
            "flags": [{"code": f.code, "message": f.message.render(translate)} for f in self.flags],
            "dimensions": {code: {"points": plain(p), "max": plain(m)}
                           for code, (p, m) in self.dimensions.items()},
        }

    def to_storage(self) -> dict:
        return {
            "level": self.level, "total": str(self.total), "max": str(self.max), "passed": self.passed,
            "investment_yuan": str(self.investment_yuan), "usage_months": self.usage_months,
            "gates": [{"code": g.code, "passed": g.passed, "blocking": g.blocking, "message": g.message.to_storage()}
                      for g in self.gates],
            "items": [{"code": i.code, "dimension": i.dimension, "points": str(i.points), "max": str(i.max),
                       "reason": i.reason.to_storage()} for i in self.items],
            "flags": [{"code": f.code, "message": f.message.to_storage()} for f in self.flags],
            "dimensions": {code: [str(p), str(m)] for code, (p, m) in self.dimensions.items()},
        }

    @classmethod
    def from_storage(cls, data: Mapping) -> "ScoreResult":
        return cls(
            level=data["level"], total=Decimal(data["total"]), max=Decimal(data["max"]), passed=data["passed"],
            investment_yuan=Decimal(data["investment_yuan"]), usage_months=data["usage_months"],
            gates=tuple(Gate(g["code"], g["passed"], Message.from_storage(g["message"]), g["blocking"])
                        for g in data["gates"]),
            items=tuple(Item(i["code"], i["dimension"], Decimal(i["points"]), Decimal(i["max"]),
                             Message.from_storage(i["reason"])) for i in data["items"]),
            flags=tuple(Flag(f["code"], Message.from_storage(f["message"])) for f in data["flags"]),
            dimensions={code: (Decimal(p), Decimal(m)) for code, (p, m) in data["dimensions"].items()},
        )


def _names(services: Sequence[ServiceIn]) -> str:
    return "、".join(f"{s.provider}“{s.service_name}”" for s in services)


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


def score(edition: Edition, level: int, answers: Mapping[str, Any], services: Sequence[ServiceIn],
          batch: BatchWindow, *, shared_evidence: int = 0) -> ScoreResult:
    """`shared_evidence`: how many of the firm's files another firm also uploaded."""
    rule = edition.levels[level]
    items: list[Item] = []
    for indicator in edition.indicators_for(level):
        points, reason = indicator_points(indicator, answers.get(indicator.code), batch.usage_cutoff)
        items.append(Item(indicator.code, indicator.dimension, points.quantize(CENT),
                          indicator.max_points.quantize(CENT), reason))

    all_payments = [(s, p) for s in services for p in s.payments]
    inside = [p for _s, p in all_payments if batch.investment_from <= p.paid_on <= batch.investment_to]
    outside = [p for _s, p in all_payments if not batch.investment_from <= p.paid_on <= batch.investment_to]
    investment = sum((p.amount for p in inside), Decimal(0)).quantize(CENT)
    in_use = [s for s in services if s.started_on <= batch.usage_cutoff
              and (s.ended_on is None or s.ended_on >= batch.usage_cutoff)]
    usage = max((months_of_use(s.started_on, batch.usage_cutoff) for s in in_use), default=0)

    if "investment" in edition.computed:
        part = edition.computed["investment"]
        points, top = threshold_points(part["thresholds"], investment)
        items.append(Item("computed_investment", part["dimension"], points.quantize(CENT), top.quantize(CENT),
                          Message(ngettext("投资期内实际支付 %(amount)s 元，计 %(points)s 分",
                                           "投资期内实际支付 %(amount)s 元，计 %(points)s 分"),
                                  {"amount": _money(investment), "points": plain(points)})))
    if "usage" in edition.computed:
        part = edition.computed["usage"]
        points, top = threshold_points(part["thresholds"], Decimal(usage))
        items.append(Item("computed_usage", part["dimension"], points.quantize(CENT), top.quantize(CENT),
                          Message(ngettext("截至 %(cutoff)s 连续上云 %(months)s 个月，计 %(points)s 分",
                                           "截至 %(cutoff)s 连续上云 %(months)s 个月，计 %(points)s 分"),
                                  {"cutoff": batch.usage_cutoff.isoformat(), "months": usage,
                                   "points": plain(points)})))

    dimensions: dict[str, tuple[Decimal, Decimal]] = {}
    for item in items:
        points, top = dimensions.get(item.dimension, (Decimal(0), Decimal(0)))
        dimensions[item.dimension] = (points + item.points, top + item.max)
    total = sum((i.points for i in items), Decimal(0)).quantize(CENT)
    maximum = sum((i.max for i in items), Decimal(0)).quantize(CENT)

    gates = _gates(edition, level, rule, answers, services, batch, investment, outside, dimensions, total)
    flags = _flags(answers, services, batch, all_payments, shared_evidence)
    return ScoreResult(
        level=level, total=total, max=maximum, passed=all(g.passed for g in gates if g.blocking),
        investment_yuan=investment, usage_months=usage, gates=tuple(gates), items=tuple(items),
        flags=tuple(flags), dimensions=dimensions,
    )


def _gates(edition, level, rule, answers, services, batch, investment, outside, dimensions, total) -> list[Gate]:
    gates = [Gate("services_declared", bool(services),
                  Message(N_("已申报 %(n)s 项云服务"), {"n": len(services)}) if services
                  else Message(N_("未申报任何云服务")))]
    wrong = [s for s in services if s.deployment not in rule.deployments]
    gates.append(Gate("deployment", not wrong,
                      Message(N_("云服务部署方式符合%(level)s星级要求"), {"level": level}) if not wrong else
                      Message(N_("%(level)s星级不接受以下服务的部署方式：%(names)s"),
                              {"level": level, "names": _names(wrong)})))
    months = rule.min_usage_months
    short = [s for s in services if months_of_use(s.started_on, batch.usage_cutoff) < months
             or (s.ended_on is not None and s.ended_on < batch.usage_cutoff)]
    gates.append(Gate("min_usage", bool(services) and not short,
                      Message(N_("每项云服务截至 %(cutoff)s 均已连续使用满 %(months)s 个月且仍在使用"),
                              {"cutoff": batch.usage_cutoff.isoformat(), "months": months}) if not short else
                      Message(N_("以下服务截至 %(cutoff)s 未连续使用满 %(months)s 个月或已停用：%(names)s"),
                              {"cutoff": batch.usage_cutoff.isoformat(), "months": months, "names": _names(short)})))
    enough = investment >= rule.min_investment_yuan
    amounts = {"amount": _money(investment), "minimum": _money(rule.min_investment_yuan)}
    gates.append(Gate("min_investment", enough,
                      Message(N_("投资期内上云投入 %(amount)s 元，达到最低要求 %(minimum)s 元"), amounts) if enough
                      else Message(N_("投资期内上云投入 %(amount)s 元，未达到最低要求 %(minimum)s 元"), amounts)))
    excluded = sum((p.amount for p in outside), Decimal(0))
    gates.append(Gate("payments_in_window", not outside,
                      Message(N_("全部付款均在投资期 %(start)s 至 %(end)s 内"),
                              {"start": batch.investment_from.isoformat(), "end": batch.investment_to.isoformat()})
                      if not outside else
                      Message(N_("%(n)s 笔付款（合计 %(amount)s 元）不在投资期 %(start)s 至 %(end)s 内，未计入投入"),
                              {"n": len(outside), "amount": _money(excluded),
                               "start": batch.investment_from.isoformat(), "end": batch.investment_to.isoformat()}),
                      blocking=False))
    for code, minimum in rule.mandatory_dimensions.items():
        points = dimensions.get(code, (Decimal(0), Decimal(0)))[0]
        title = edition.dimension(code).title
        gates.append(Gate(f"mandatory_{code}", points >= minimum,
                          Message(N_("“%(dimension)s”得分 %(points)s，%(level)s星级要求至少 %(minimum)s 分"),
                                  {"dimension": title, "points": plain(points), "level": level,
                                   "minimum": plain(minimum)})))
    missing = [i for i in edition.indicators_for(level) if i.required and answers.get(i.code) in (None, "", [])]
    gates.append(Gate("required_answers", not missing,
                      Message(N_("必填指标均已填写")) if not missing else
                      Message(N_("以下必填指标未填写：%(names)s"), {"names": "、".join(i.title for i in missing)})))
    gates.append(Gate("pass_score", total >= rule.pass_score,
                      Message(N_("总分 %(total)s，%(level)s星级合格线 %(pass)s 分"),
                              {"total": plain(total), "level": level, "pass": plain(rule.pass_score)})))
    return gates


def _flags(answers, services, batch, all_payments, shared) -> list[Flag]:
    flags = []
    declared = answers.get("declared_investment_yuan")
    paid = sum((p.amount for _s, p in all_payments), Decimal(0))
    if declared is not None and abs(Decimal(declared) - paid) > 1:
        flags.append(Flag("declared_investment_mismatch",
                          Message(N_("自报上云投入 %(declared)s 元与付款记录合计 %(paid)s 元不一致"),
                                  {"declared": _money(Decimal(declared)), "paid": _money(paid)})))
    if shared:
        flags.append(Flag("shared_evidence",
                          Message(N_("%(n)s 份证明材料与其他企业上传的文件完全相同"), {"n": shared})))
    late = [s for s in services if s.started_on > batch.usage_cutoff]
    if late:
        flags.append(Flag("service_starts_after_cutoff",
                          Message(N_("以下服务的开始日期晚于截止日 %(cutoff)s：%(names)s"),
                                  {"cutoff": batch.usage_cutoff.isoformat(), "names": _names(late)})))
    early = sorted({s for s, p in all_payments if p.paid_on < s.started_on}, key=lambda s: s.service_name)
    if early:
        flags.append(Flag("payment_before_service_start",
                          Message(N_("以下服务有早于开始使用日期的付款：%(names)s"), {"names": _names(early)})))
    return flags
