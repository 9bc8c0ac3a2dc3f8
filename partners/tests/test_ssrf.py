"""The SSRF guard: in production only https, and never loopback, private, link-local or reserved addresses (every
address the host resolves to is checked); development and tests may call loopback over http."""

import socket

import pytest

from partners.ssrf import UnsafeUrl, check_url


def resolving_to(*addresses):
    def resolve(host, port, proto=0):
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, proto, "", (a, port)) for a in addresses]

    return resolve


@pytest.fixture
def production(settings):
    settings.VIPCLUB_WEBHOOK_ALLOW_HTTP = False
    settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE = False


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://172.16.0.1/hook",
        "https://192.168.1.1:8443/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "https://100.64.0.1/hook",
    ],
)
def test_production_refuses_the_clubs_own_network(production, url):
    with pytest.raises(UnsafeUrl):
        check_url(url)


def test_production_refuses_a_public_name_that_resolves_to_a_private_address(production):
    with pytest.raises(UnsafeUrl, match="10.0.0.5"):
        check_url("https://partner.example.com/hook", resolve=resolving_to("93.184.216.34", "10.0.0.5"))


def test_production_refuses_http_and_credentials(production):
    with pytest.raises(UnsafeUrl, match="https"):
        check_url("http://partner.example.com/hook", resolve=resolving_to("93.184.216.34"))
    with pytest.raises(UnsafeUrl, match="credentials"):
        check_url("https://user:pw@partner.example.com/hook", resolve=resolving_to("93.184.216.34"))
    with pytest.raises(UnsafeUrl):
        check_url("ftp://partner.example.com/hook")


def test_production_accepts_https_to_a_public_address(production):
    check_url("https://partner.example.com/hook", resolve=resolving_to("93.184.216.34", "2606:2800:220:1::1"))


def test_development_may_call_loopback_over_http(settings):
    settings.VIPCLUB_WEBHOOK_ALLOW_HTTP = settings.VIPCLUB_WEBHOOK_ALLOW_PRIVATE = True
    check_url("http://127.0.0.1:8000/hook")
