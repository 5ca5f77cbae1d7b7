"""The officials' list of cloud providers (one provider, several names) and the blacklist that
uses it: a firm named by credit code or name search, a provider from the list."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from rating.extensions import db
from rating.models import AuditEntry, BlacklistEntry, Provider
from tests.support.factories import make_staff
from tests.support.flows import file_everything
from tests.support.people import csrf_token, logged_in

pytestmark = pytest.mark.integration


@pytest.fixture()
def official(app):
    return make_staff("official", "320400")


def add_provider(client, name: str, aliases: str = ""):
    page = client.get("/providers/")
    return client.post("/providers/", data={"csrf_token": csrf_token(page.text), "name": name, "aliases": aliases},
                       follow_redirects=True)


def test_officials_keep_one_provider_under_several_names(app, api, official):
    client = logged_in(app, official.email)
    added = add_provider(client, "阿里云", "阿里云计算有限公司\nAlibaba Cloud\n阿里云计算有限公司")
    assert "已保存云服务商“阿里云”" in added.text
    refused = add_provider(client, "阿里云计算有限公司")
    assert "“阿里云计算有限公司”已是云服务商“阿里云”的名称或别名。" in refused.text
    assert add_provider(client, "华为云", "阿里云").text.count("已是云服务商“阿里云”") >= 1
    assert db.session.execute(select(Provider.name)).scalars().all() == ["阿里云"]

    token = api.token(official.email)
    found = api.get("/providers", token=token, query_string={"q": "计算有限"}).get_json()
    assert found == [{"id": found[0]["id"], "name": "阿里云", "aliases": ["Alibaba Cloud", "阿里云计算有限公司"],
                      "blacklisted": False}]
    assert api.get("/providers", token=token, query_string={"q": "华为"}).get_json() == []
    firm, firm_token = api.register_firm("320402")
    assert api.get("/providers", token=firm_token).status_code == 200      # the services form's list
    assert api.get("/providers").status_code == 401

    provider_id = found[0]["id"]
    edit = client.get(f"/providers/{provider_id}/edit")
    assert "阿里云计算有限公司" in edit.text
    saved = client.post(f"/providers/{provider_id}/edit", data={
        "csrf_token": csrf_token(edit.text), "name": "阿里云", "aliases": "阿里云计算有限公司"}, follow_redirects=True)
    assert "Alibaba Cloud" not in saved.text
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.object_type == "provider")
                                 .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["provider.create", "provider.update"]
    reviewer = logged_in(app, make_staff("reviewer", "320402").email)
    assert reviewer.get("/providers/").status_code == 403


def test_blacklisting_a_provider_by_any_of_its_names(app, api, batch, official):
    client = logged_in(app, official.email)
    add_provider(client, "天翼云", "天翼云科技有限公司")
    _firm, token = api.register_firm("320402")
    filed = file_everything(api, token, batch, 3)          # declares 天翼云
    added = api.post("/blacklist", {"provider_name": "天翼云科技有限公司", "reason": "虚开发票"},
                     token=api.token(official.email))
    assert added.status_code == 201 and added.get_json()["flagged_applications"] == [filed["id"]]
    assert db.session.execute(select(BlacklistEntry.provider_name)).scalar_one() == "天翼云"
    assert api.post("/blacklist", {"provider_name": "天翼云", "reason": "x"},
                    token=api.token(official.email)).status_code == 409
    listed = api.get("/providers", token=token, query_string={"q": "天翼"}).get_json()
    assert listed[0]["blacklisted"] is True


def test_the_blacklist_page_names_a_firm_by_credit_code_or_name(app, api, official):
    first, _t = api.register_firm("320402", name="常州甲云科技有限公司")
    api.register_firm("320402", name="常州乙云科技有限公司")
    elsewhere, _t = api.register_firm("320102", name="南京丙云科技有限公司")
    client = logged_in(app, official.email)
    page = client.get("/reviews/blacklist")
    assert 'name="enterprise_id"' not in page.text and "统一社会信用代码或名称" in page.text

    def post(**data):
        return client.post("/reviews/blacklist", data={"csrf_token": csrf_token(page.text), "reason": "伪造材料",
                                                       **data}, follow_redirects=True)

    several = post(enterprise="云科技")
    assert "有 2 家企业符合" in several.text and first["uscc"] in several.text
    assert "没有符合的企业" in post(enterprise="南京丙云").text          # outside the official's city
    assert "没有符合的企业" in post(enterprise=elsewhere["uscc"]).text
    assert db.session.execute(select(BlacklistEntry)).first() is None
    done = post(enterprise=first["uscc"])
    assert "已列入黑名单" in done.text and "常州甲云科技有限公司" in done.text
    add_provider(client, "天翼云", "天翼云科技有限公司")
    page = client.get("/reviews/blacklist")
    provider_id = re.search(r'<option value="(\d+)">天翼云</option>', page.text).group(1)
    assert "已列入黑名单" in post(provider_id=provider_id).text
    names = db.session.execute(select(BlacklistEntry.provider_name).order_by(BlacklistEntry.id)).scalars().all()
    assert names == [None, "天翼云"]
    assert post(provider_id="999999").status_code == 200      # not a choice: refused, nothing written
    assert len(db.session.execute(select(BlacklistEntry)).all()) == 2
