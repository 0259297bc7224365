"""Receiver URLs: only http(s), and never an address inside the server's own network
unless private addresses are allowed, checked when a channel is saved and when it sends."""

from __future__ import annotations

import ipaddress

import pytest

from app.alerting import channels, urls
from app.alerting.channels import ChannelConfigError
from tests.alerting.channels.conftest import LOCAL, PUBLIC_ONLY, notification

INTERNAL = [
    "http://127.0.0.1/",
    "http://localhost/",
    "http://10.0.0.1/",
    "http://192.168.1.20:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/",
    "http://0.0.0.0/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://127.1/",
    "http://2130706433/",
    "http://hooks.example@127.0.0.1/",
]


@pytest.mark.parametrize("url", INTERNAL)
@pytest.mark.parametrize(
    "kind", ["webhook", "slack", "dingtalk", "feishu", "wecom", "alertmanager"]
)
def test_a_channel_to_an_internal_address_is_refused_naming_url(kind, url):
    with pytest.raises(ChannelConfigError) as refused:
        channels.validate(kind, {"url": url}, PUBLIC_ONLY)
    assert refused.value.field == "url"
    assert "PULSEBOARD_WEBHOOK_ALLOW_PRIVATE" in refused.value.message


@pytest.mark.parametrize("url", ["ftp://x/", "file:///etc/passwd", "gopher://x/", "x", ""])
def test_a_url_that_is_not_http_is_refused_even_when_private_addresses_are_allowed(url):
    with pytest.raises(ChannelConfigError) as refused:
        channels.validate("webhook", {"url": url}, LOCAL)
    assert refused.value.field == "url"


def test_a_missing_url_is_refused_naming_url():
    with pytest.raises(ChannelConfigError) as refused:
        channels.validate("webhook", {}, LOCAL)
    assert refused.value.field == "url"


def test_the_metadata_address_is_named_as_such():
    with pytest.raises(urls.RefusedURL, match="cloud metadata"):
        urls.check("http://169.254.169.254/", allow_private=False)


def test_a_name_that_resolves_to_loopback_is_refused_by_its_address():
    with pytest.raises(urls.RefusedURL, match=r"localhost resolves to 127\.0\.0\.1, a loopback"):
        urls.check("http://localhost:8080/hook", allow_private=False)


def test_a_public_address_passes_with_the_addresses_it_resolved_to():
    checked = urls.check("https://93.184.216.34/hook?x=1", allow_private=False)
    assert (checked.scheme, checked.host, checked.port) == ("https", "93.184.216.34", 443)
    assert checked.addresses == ("93.184.216.34",)


def test_private_addresses_pass_when_allowed():
    assert urls.check("http://localhost:9/", allow_private=True).addresses == ("127.0.0.1",)


def test_a_host_that_does_not_resolve_is_refused_and_worth_asking_again():
    with pytest.raises(urls.UnresolvedHost) as refused:
        urls.check("http://nothing.invalid/", allow_private=True)
    assert refused.value.retry is True


def test_a_bad_port_is_refused():
    with pytest.raises(urls.RefusedURL, match="port"):
        urls.check("http://example.com:99999/", allow_private=True)


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2606:4700::1111", True), ("172.16.0.1", False), ("fe80::1", False)],
)
def test_blocked_reason_tells_public_from_internal_addresses(address, public):
    assert (urls.blocked_reason(ipaddress.ip_address(address)) is None) is public


def test_a_config_saved_while_private_addresses_were_allowed_is_refused_at_send(receiver):
    config = channels.validate("webhook", {"url": receiver.url + "/hook"}, LOCAL)
    answer = channels.send("webhook", config, notification(), PUBLIC_ONLY)
    assert (answer.ok, answer.status, answer.retry) == (False, None, False)
    assert "loopback" in answer.answer
    assert receiver.requests == []
