"""Apprise: the title and plain-text body handed to the apprise library, which delivers
them (here through its generic ``json://`` service to a local receiver); the hosts of its
generic HTTP schemes pass the same address check as every channel."""

from __future__ import annotations

import pytest

from app.alerting import channels
from tests.alerting.channels.conftest import LOCAL, PUBLIC_ONLY, free_port, notification


def test_a_json_url_arrives_at_the_receiver_with_title_and_body(receiver):
    url = receiver.url.replace("http://", "json://") + "/apprise/in"
    config = channels.validate("apprise", {"url": url}, LOCAL)
    assert config == {"url": url}
    answer = channels.send("apprise", config, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.answer) == (True, None, "delivered")
    [request] = receiver.requests
    assert request.path == "/apprise/in"
    body = request.json()
    assert body["title"] == "[FIRING:1] Disk almost full (web-1)"
    assert "/ on web-1 is 97.3% full" in body["message"]
    assert "Acknowledge: http://pulse.example/alerts/7?ack=1" in body["message"]


def test_a_receiver_that_fails_is_not_delivered_with_apprises_reason(receiver):
    receiver.reply(500, "broken")
    url = receiver.url.replace("http://", "json://")
    answer = channels.send("apprise", {"url": url}, notification(), LOCAL)
    assert (answer.ok, answer.status) == (False, None)
    assert answer.answer and answer.answer != "delivered"


def test_a_receiver_that_is_down_is_not_delivered():
    url = f"json://127.0.0.1:{free_port()}/"
    answer = channels.send("apprise", {"url": url}, notification(), LOCAL)
    assert (answer.ok, answer.retry) == (False, True)


@pytest.mark.parametrize(
    "url", ["json://127.0.0.1/", "jsons://localhost/", "form://10.0.0.1/", "xml://169.254.169.254/"]
)
def test_generic_http_schemes_to_internal_hosts_are_refused_naming_url(url):
    with pytest.raises(channels.ChannelConfigError) as refused:
        channels.validate("apprise", {"url": url}, PUBLIC_ONLY)
    assert refused.value.field == "url"


def test_a_json_url_saved_while_private_was_allowed_is_refused_at_send(receiver):
    url = receiver.url.replace("http://", "json://")
    answer = channels.send("apprise", {"url": url}, notification(), PUBLIC_ONLY)
    assert (answer.ok, answer.retry) == (False, False)
    assert "loopback" in answer.answer
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["", "nonsense", "unknownscheme://x", None])
def test_a_url_apprise_does_not_know_is_refused_naming_url(url):
    with pytest.raises(channels.ChannelConfigError) as refused:
        channels.validate("apprise", {"url": url}, LOCAL)
    assert refused.value.field == "url"


def test_a_service_url_that_names_no_host_is_accepted_without_an_address_check():
    url = "tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/12345"
    assert channels.validate("apprise", {"url": url}, PUBLIC_ONLY) == {"url": url}


def test_a_redirect_is_not_followed(receiver):
    receiver.reply(302, "", Location=receiver.url + "/elsewhere")
    url = receiver.url.replace("http://", "json://") + "/in"
    answer = channels.send("apprise", {"url": url}, notification(), LOCAL)
    assert answer.ok is False
    assert [r.path for r in receiver.requests] == ["/in"]
