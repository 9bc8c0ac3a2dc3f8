"""The webhook tests' receiver (partners/tests/receiver.py), and settings that let the club call it (in production
loopback and http are refused: see test_ssrf.py)."""

import pytest

from partners.tests.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _webhooks_to_loopback(settings):
    settings.VIPCLUB_WEBHOOK_ALLOW_HTTP = True
    settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE = True
    settings.VIPCLUB_WEBHOOK_TIMEOUT = 5.0
