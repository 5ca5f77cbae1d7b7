"""A storage setting the application cannot use stops it at start, naming the variable to
fix, instead of failing the first upload or download; the defaults and a complete S3
setting pass."""
from __future__ import annotations

import pytest

from rating import config, create_app

pytestmark = pytest.mark.unit

REFUSED = [
    ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND must be local or s3, not 'ftp'"),
    ({"STORAGE_BACKEND": "S3 "}, "STORAGE_BACKEND must be local or s3, not 's3 '"),
    ({"STORAGE_BACKEND": "S3"}, "S3_BUCKET must be set when STORAGE_BACKEND=s3"),
    ({"STORAGE_BACKEND": "s3", "S3_PREFIX": "rating/"}, "S3_BUCKET must be set when STORAGE_BACKEND=s3"),
]
ACCEPTED = [{}, {"STORAGE_BACKEND": "LOCAL"}, {"STORAGE_BACKEND": "s3", "S3_BUCKET": "ratings"}]


@pytest.fixture()
def environment(monkeypatch, tmp_path):
    """No storage settings in the environment; a throwaway instance folder."""
    for name in ("STORAGE_BACKEND", "S3_BUCKET", "S3_PREFIX", "S3_ENDPOINT_URL", "S3_REGION", "RATING_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    return monkeypatch


@pytest.mark.parametrize(("env", "message"), REFUSED)
def test_create_app_refuses_storage_settings_from_the_environment(environment, env, message):
    for name, value in env.items():
        environment.setenv(name, value)
    with pytest.raises(RuntimeError) as refused:
        create_app()
    assert str(refused.value) == message


@pytest.mark.parametrize(("settings", "message"), [
    ({"STORAGE_BACKEND": "ftp"}, "STORAGE_BACKEND must be local or s3, not 'ftp'"),
    ({"STORAGE_BACKEND": "s3", "S3_BUCKET": ""}, "S3_BUCKET must be set when STORAGE_BACKEND=s3"),
])
def test_create_app_refuses_storage_settings_given_to_it(environment, settings, message):
    with pytest.raises(RuntimeError) as refused:
        create_app({"TESTING": True, **settings})
    assert str(refused.value) == message


@pytest.mark.parametrize("env", ACCEPTED)
def test_usable_storage_settings_pass(environment, tmp_path, env):
    # Checked on the mapping create_app checks: a whole app here would replace the test
    # session's default Celery app (the apps the integration tests build start normally).
    for name, value in env.items():
        environment.setenv(name, value)
    assert config.storage_problem(config.from_environment(str(tmp_path))) is None
