"""What `make run` serves and where its mail goes, as configuration: the public address
follows PORT unless PUBLIC_BASE_URL is given (certificates' QR codes point at the port
actually served), and in development mode mail goes to the local catcher unless
MAIL_SERVER is given. (Before issue 27 the address was 127.0.0.1:5000 whatever PORT was.)"""
from __future__ import annotations

import pytest

from rating import config

pytestmark = pytest.mark.unit


@pytest.fixture()
def environment(monkeypatch, tmp_path):
    for name in ("PORT", "PUBLIC_BASE_URL", "RATING_ENV", "MAIL_SERVER", "MAIL_PORT", "MAIL_CATCHER_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_public_address_follows_port(environment, tmp_path):
    environment.setenv("PORT", "8123")
    assert config.from_environment(str(tmp_path))["PUBLIC_BASE_URL"] == "http://127.0.0.1:8123"


def test_a_given_public_address_wins_over_port(environment, tmp_path):
    environment.setenv("PORT", "8123")
    environment.setenv("PUBLIC_BASE_URL", "https://rating.example.cn/stars/")
    assert config.from_environment(str(tmp_path))["PUBLIC_BASE_URL"] == "https://rating.example.cn/stars"


def test_without_port_the_address_is_port_5000(environment, tmp_path):
    assert config.from_environment(str(tmp_path))["PUBLIC_BASE_URL"] == "http://127.0.0.1:5000"


def test_development_mode_sends_mail_to_the_catcher(environment, tmp_path):
    environment.setenv("RATING_ENV", "development")
    settings = config.from_environment(str(tmp_path))
    assert settings["DEVELOPMENT"] is True
    assert (settings["MAIL_SERVER"], settings["MAIL_PORT"]) == ("127.0.0.1", config.MAIL_CATCHER_PORT)
    assert settings["MAIL_CATCHER_DIR"] == str(tmp_path / "mail")


def test_a_given_mail_server_wins_in_development(environment, tmp_path):
    environment.setenv("RATING_ENV", "development")
    environment.setenv("MAIL_SERVER", "smtp.example.cn")
    settings = config.from_environment(str(tmp_path))
    assert (settings["MAIL_SERVER"], settings["MAIL_PORT"]) == ("smtp.example.cn", 25)


def test_development_mode_is_off_by_default(environment, tmp_path):
    settings = config.from_environment(str(tmp_path))
    assert settings["DEVELOPMENT"] is False
    assert (settings["MAIL_SERVER"], settings["MAIL_PORT"]) == ("localhost", 25)
