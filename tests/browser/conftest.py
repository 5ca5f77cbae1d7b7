"""A live server (gunicorn) and a Celery worker on the test database, and Debian's Chromium."""
from __future__ import annotations

import pytest

from tests.support.servers import free_port, web, worker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture()
def live_server(app, app_env, tmp_path):
    port = free_port()
    server = web(app_env, tmp_path, port, workers=1)
    try:
        scorer = worker(app_env, tmp_path)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            scorer.stop()
    finally:
        server.stop()


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
