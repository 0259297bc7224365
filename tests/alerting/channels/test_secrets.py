"""Channel secrets: configs sealed with a key derived from the server's secret key (and
unreadable under another), and shown with secrets and URL tokens masked."""

from __future__ import annotations

import pytest

from app.alerting.secrets import HIDDEN, SecretBox, SecretError, mask, mask_url

CONFIG = {
    "url": "https://hooks.example/x?access_token=abcdef0123456789",
    "secret": "SECabc123xyz99",
}


def test_a_sealed_config_opens_again_with_the_same_server_key():
    box = SecretBox("the server's secret key")
    token = box.seal(CONFIG)
    assert "abcdef0123456789" not in token and "SECabc123xyz99" not in token
    assert SecretBox("the server's secret key").open(token) == CONFIG


def test_two_seals_of_one_config_differ():
    box = SecretBox("k")
    assert box.seal(CONFIG) != box.seal(CONFIG)


def test_another_key_or_a_tampered_token_cannot_open_it():
    token = SecretBox("key one").seal(CONFIG)
    with pytest.raises(SecretError):
        SecretBox("key two").open(token)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(SecretError):
        SecretBox("key one").open(tampered)
    with pytest.raises(SecretError):
        SecretBox("key one").decrypt("not a token ✗")


def test_mask_shows_the_last_two_characters_of_a_long_secret_and_nothing_of_a_short_one():
    assert mask({"secret": "SECabc123xyz99"})["secret"] == "••••99"
    assert mask({"secret": "short"})["secret"] == HIDDEN
    assert mask({"to": ["a@b.c"]}) == {"to": ["a@b.c"]}


def test_mask_leaves_the_original_config_alone():
    masked = mask(CONFIG)
    assert masked != CONFIG
    assert CONFIG["secret"] == "SECabc123xyz99"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/abcdefghijklmnopqrstuvwx",
            "https://hooks.slack.com/services/••••••/••••••/••••wx",
        ),
        (
            "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef",
            "https://oapi.dingtalk.com/robot/send?access_token=••••ef",
        ),
        (
            "https://open.feishu.cn/open-apis/bot/v2/hook/2d3f4e5a-1111-2222-3333-444455556666",
            "https://open.feishu.cn/open-apis/bot/v2/hook/••••66",
        ),
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=••••aa",
        ),
        ("http://ops:hunter2@am.example:9093/", f"http://ops:{HIDDEN}@am.example:9093/"),
        (
            "https://hooks.example/api/v2/alerts?team=ops",
            "https://hooks.example/api/v2/alerts?team=ops",
        ),
    ],
)
def test_tokens_in_a_url_are_masked_and_the_rest_stays_readable(url, shown):
    assert mask_url(url) == shown
    assert mask({"url": url})["url"] == shown


def test_an_apprise_url_is_masked_the_way_apprise_hides_its_tokens():
    url = "tgram://123456789:ABCdefGHIjklMNOpqrSTUvwxYZ/12345"
    shown = mask({"url": url}, kind="apprise")["url"]
    assert shown.startswith("tgram://")
    assert "ABCdefGHIjklMNOpqrSTUvwxYZ" not in shown
