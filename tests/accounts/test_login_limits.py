"""Login throttling per address on Redis (Flask-Limiter), and what happens when Redis is
down: logins keep working and each web process limits on its own in memory until Redis
is back (documented in the README). The pause of an email's failed logins from one
address is counted in the same storage, and in memory while it cannot be reached
(test_account_security)."""
from __future__ import annotations

import re

import requests

import pytest

from tests.support.factories import PASSWORD, make_staff
from tests.support.servers import RedisServer, free_port, web

pytestmark = pytest.mark.integration

# The limit under test is set through LOGIN_LIMIT, small so that the test makes a few dozen
# password checks rather than hundreds; the default's size (API.md: at least 60 a minute) is
# the last test's. An hour's window, because a window that ends mid-test would start counting
# again on a loaded machine (a flaky failure, seen).
LIMIT = 12
WINDOW = f"{LIMIT} per hour"


def _attempts(base: str, email: str, n: int, password: str = "wrong-Pass1") -> list[int]:
    session = requests.Session()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', session.get(f"{base}/login").text).group(1)
    return [session.post(f"{base}/login", data={"csrf_token": token, "email": email, "password": password},
                         allow_redirects=False, timeout=10).status_code for _ in range(n)]


def test_per_address_limit_on_redis_and_in_memory_when_redis_is_down(app, app_env, tmp_path):
    # Nine failures each, spread over accounts: no email reaches the pause of its own (ten).
    before, after = ([make_staff("reviewer", "320402") for _ in range(2)] for _ in range(2))
    ok = make_staff("reviewer", "320402")
    redis = RedisServer().start()
    port = free_port()
    server = web({**app_env, "REDIS_URL": redis.url(5), "LOGIN_LIMIT": WINDOW}, tmp_path, port, workers=1)
    base = f"http://127.0.0.1:{port}"
    try:
        codes = []
        for user in before:
            codes += _attempts(base, user.email, 9)
        assert set(codes[:LIMIT]) == {401} and set(codes[LIMIT:]) == {429}, codes[LIMIT - 2:]
        import redis as redis_client

        assert redis_client.Redis.from_url(redis.url(5)).keys("LIMITS*")      # counted in Redis

        redis.stop()                                                # Redis goes away
        assert _attempts(base, ok.email, 1, password=PASSWORD) == [302]      # logins work: memory fallback
        codes = []
        for user in after:
            codes += _attempts(base, user.email, 9)
        assert set(codes[:LIMIT - 1]) == {401} and 429 in codes              # still limited, per process
    finally:
        server.stop()
        redis.destroy()


def test_the_default_limit_allows_a_bureau_office_behind_one_address(app):
    """API.md: any per-address limit allows at least 60 logins a minute."""
    from limits import parse

    from rating.config import from_environment

    limit = parse(from_environment(str(app.instance_path))["LOGIN_LIMIT"])
    assert limit.amount * 60 / limit.get_expiry() >= 60
