"""Browser tests: Debian's headless Chromium driven by Playwright (pytest-playwright) against pytest-django's
live_server. Marked `browser`; skipped with a reason when /usr/bin/chromium or Playwright is missing.

Playwright's sync API keeps an event loop in the test thread, so Django's async-safety check must be relaxed
for the ORM calls the tests make while a browser is open."""

import os
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"  # git-ignored


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright (tests/browser)")


def _missing() -> str | None:
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        return f"{CHROMIUM} is missing: browser tests need Debian's chromium package (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
        import pytest_playwright  # noqa: F401
    except ImportError:
        return "playwright / pytest-playwright are not installed (pip install playwright pytest-playwright)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def playwright():
    """pytest-playwright's `playwright` fixture, keeping Django's database connections.

    Starting the sync API switches the test's greenlet back from inside an asyncio callback, and the test
    thread carries on in another contextvars context: Django's connections (an asgiref Local) look empty
    there, and a new connection object without the serialized test data would replace the one that has it,
    so `serialized_rollback` would silently stop restoring the migrations' data for every later test.
    Put the same connection objects back into the new context."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    saved = {alias: connections[alias] for alias in connections}
    pw = sync_playwright().start()
    for alias, connection in saved.items():
        connections[alias] = connection
    yield pw
    pw.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch options, with the system Chromium (never `playwright install`)."""
    return {"headless": True, **browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "locale": "en-US",
        "timezone_id": "Asia/Shanghai",
        "viewport": {"width": 1280, "height": 900},
    }


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
