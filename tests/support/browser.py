"""Helpers for tests that drive a real browser (Playwright)."""
from __future__ import annotations

import time


def assert_scored(page, timeout: float = 90.0) -> None:
    """Reload the application page until the worker's score shows, then check it is in review."""
    deadline = time.monotonic() + timeout
    while not page.get_by_test_id("score").count() and time.monotonic() < deadline:
        time.sleep(1)
        page.reload()
    assert "满足申报条件" in page.get_by_test_id("score").inner_text()
    assert page.get_by_test_id("status").inner_text() == "审核中"
