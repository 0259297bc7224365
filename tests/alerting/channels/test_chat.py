"""Chat robots: Slack blocks, DingTalk and Feishu signed as their servers verify them,
WeCom markdown; success read from each robot's own code field, and data escaped so a
label cannot add links or mentions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qs, urlsplit

from app.alerting import channels
from app.alerting.templates import escape_markdown as inert
from tests.alerting.channels.conftest import LOCAL, alert, notification

SECRET = "SECa1b2c3d4e5f6"
HOSTILE = alert(
    labels={
        **alert().labels,
        "host": '<!channel> [click](http://evil.example) @all <at user_id="all"></at>',
    }
)


def test_slack_gets_a_fallback_text_and_header_section_and_actions_blocks(receiver):
    config = channels.validate("slack", {"url": receiver.url + "/services/T1/B2/xyz"}, LOCAL)
    assert channels.send("slack", config, notification(), LOCAL).ok
    body = receiver.requests[0].json()
    assert body["text"] == "[FIRING:1] Disk almost full (web-1)"
    header, section, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "[FIRING:1] Disk almost full (web-1)",
            "emoji": True,
        },
    }
    assert section["type"] == "section"
    assert section["text"]["text"].splitlines() == [
        "*Disk almost full · critical · firing*",
        "/ on web-1 is 97.3% full",
    ]
    assert {f["text"] for f in section["fields"]} >= {"*Value*\n97.25", "*host*\nweb-1"}
    assert actions["type"] == "actions"
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("Runbook", "https://wiki.example/disk"),
        ("Source", "http://pulse.example/alerts/rules/3"),
        ("Acknowledge", "http://pulse.example/alerts/7?ack=1"),
    ]


def test_slack_shows_ten_fields_and_the_further_labels_in_the_text():
    many = alert(labels={**alert().labels, **{f"k{i:02}": f"v{i}" for i in range(12)}})
    section = json.loads(
        channels.KINDS["slack"].request({"url": "x"}, notification(many), LOCAL)[1]
    )["blocks"][1]
    assert len(section["fields"]) == 10
    assert "k11: v11" in section["text"]["text"]


def test_slack_escapes_labels_so_they_cannot_mention_or_link():
    body = channels.KINDS["slack"].request({"url": "x"}, notification(HOSTILE), LOCAL)[1]
    text = json.dumps(json.loads(body)["blocks"][1])
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text


def test_slack_says_how_many_notifications_a_rate_limit_merged(receiver):
    channels.send("slack", {"url": receiver.url}, notification(digest=4, test=True), LOCAL)
    body = receiver.requests[0].json()
    assert body["text"].startswith("[TEST] [FIRING:1]")
    notes = [e["text"] for e in body["blocks"][-1]["elements"]]
    assert "+4 more notifications merged (rate limit)" in notes


def test_dingtalk_signs_the_url_as_dingtalk_verifies_it(receiver):
    url = receiver.url + "/robot/send?access_token=tok123"
    config = channels.validate("dingtalk", {"url": url, "secret": SECRET}, LOCAL)
    receiver.reply(200, '{"errcode":0,"errmsg":"ok"}')
    answer = channels.send("dingtalk", config, notification(), LOCAL)
    assert (answer.ok, answer.status) == (True, 200)
    [request] = receiver.requests
    query = parse_qs(urlsplit(request.path).query)
    assert query["access_token"] == ["tok123"]
    timestamp = query["timestamp"][0]
    assert abs(int(timestamp) - time.time() * 1000) < 3_600_000
    digest = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256)
    assert query["sign"] == [base64.b64encode(digest.digest()).decode()]
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "[FIRING:1] Disk almost full (web-1)"
    assert body["markdown"]["text"].startswith(
        "### " + inert("[FIRING:1] Disk almost full (web-1)")
    )
    assert body["at"] == {"atMobiles": [], "isAtAll": False}


def test_dingtalk_without_a_secret_posts_to_the_url_as_it_is(receiver):
    url = receiver.url + "/robot/send?access_token=tok123"
    receiver.reply(200, '{"errcode":0,"errmsg":"ok"}')
    assert channels.send("dingtalk", {"url": url}, notification(), LOCAL).ok
    assert receiver.requests[0].path == "/robot/send?access_token=tok123"


def test_dingtalk_mentions_the_configured_mobiles_in_the_text_too(receiver):
    config = channels.validate(
        "dingtalk", {"url": receiver.url, "at_mobiles": ["13800000000"]}, LOCAL
    )
    receiver.reply(200, '{"errcode":0,"errmsg":"ok"}')
    channels.send("dingtalk", config, notification(), LOCAL)
    body = receiver.requests[0].json()
    assert body["at"]["atMobiles"] == ["13800000000"]
    assert body["markdown"]["text"].endswith("@13800000000")


def test_dingtalk_answering_200_with_an_error_code_is_a_failure_with_its_message(receiver):
    receiver.reply(200, '{"errcode":310000,"errmsg":"sign not match"}')
    answer = channels.send("dingtalk", {"url": receiver.url, "secret": "x"}, notification(), LOCAL)
    assert (answer.ok, answer.status, answer.answer, answer.retry) == (
        False,
        200,
        "sign not match",
        False,
    )


def test_dingtalk_saying_too_fast_is_worth_retrying(receiver):
    receiver.reply(200, '{"errcode":130101,"errmsg":"send too fast"}')
    answer = channels.send("dingtalk", {"url": receiver.url}, notification(), LOCAL)
    assert (answer.ok, answer.retry) == (False, True)


def test_chat_markdown_neutralises_links_and_mentions_from_labels(receiver):
    for kind in ("dingtalk", "feishu", "wecom"):
        receiver.reply(200, '{"errcode":0,"code":0}')
        assert channels.send(kind, {"url": receiver.url}, notification(HOSTILE), LOCAL).ok
    texts = [
        receiver.requests[0].json()["markdown"]["text"],
        receiver.requests[1].json()["card"]["elements"][0]["content"],
        receiver.requests[2].json()["markdown"]["content"],
    ]
    for text in texts:
        assert "[click](http://evil.example)" not in text
        assert "@all" not in text
        assert "<at" not in text
        assert "[Runbook](https://wiki.example/disk)" in text


def test_feishu_signs_the_body_as_feishu_verifies_it(receiver):
    config = channels.validate(
        "feishu", {"url": receiver.url + "/open-apis/bot/v2/hook/abc", "secret": SECRET}, LOCAL
    )
    receiver.reply(200, '{"code":0,"msg":"success","data":{}}')
    assert channels.send("feishu", config, notification(), LOCAL).ok
    body = receiver.requests[0].json()
    key = f"{body['timestamp']}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == "[FIRING:1] Disk almost full (web-1)"
    assert body["card"]["header"]["template"] == "red"


def test_feishu_older_bots_status_code_zero_is_success_and_a_code_is_failure(receiver):
    receiver.reply(200, '{"Extra":null,"StatusCode":0,"StatusMessage":"success"}')
    receiver.reply(
        200, '{"code":19021,"msg":"sign match fail or timestamp is not within one hour"}'
    )
    first, second = (
        channels.send("feishu", {"url": receiver.url}, notification(), LOCAL) for _ in "ab"
    )
    assert first.ok
    assert (second.ok, second.retry) == (False, False)
    assert second.answer.startswith("sign match fail")


def test_feishu_without_a_secret_sends_no_signature(receiver):
    receiver.reply(200, '{"code":0}')
    channels.send("feishu", {"url": receiver.url}, notification(), LOCAL)
    assert "sign" not in receiver.requests[0].json()


def test_wecom_gets_markdown_and_success_is_errcode_zero(receiver):
    url = receiver.url + "/cgi-bin/webhook/send?key=693a91f6"
    config = channels.validate("wecom", {"url": url, "secret": "ignored"}, LOCAL)
    assert config == {"url": url}
    receiver.reply(200, '{"errcode":0,"errmsg":"ok"}')
    receiver.reply(200, '{"errcode":93000,"errmsg":"invalid webhook url"}')
    first, second = (channels.send("wecom", config, notification(), LOCAL) for _ in "ab")
    assert first.ok and not second.ok
    assert second.answer == "invalid webhook url"
    body = receiver.requests[0].json()
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("### " + inert("[FIRING:1] Disk almost full"))
    assert receiver.requests[0].path == "/cgi-bin/webhook/send?key=693a91f6"


def test_a_resolved_notification_says_so_and_offers_no_acknowledgement(receiver):
    resolved = alert(status="resolved", ends_at=1_800_000_600.0)
    receiver.reply(200, '{"errcode":0}')
    channels.send("wecom", {"url": receiver.url}, notification(resolved), LOCAL)
    content = receiver.requests[0].json()["markdown"]["content"]
    assert content.startswith("### " + inert("[RESOLVED] Disk almost full"))
    assert "Resolved: 2027-01-15 08:10:00 UTC" in content
    assert "Acknowledge" not in content


def test_log_lines_are_a_code_block_of_at_most_ten_lines_cut_to_300_characters(receiver):
    lines = tuple(
        {
            "ts": 1_800_000_000 + i,
            "level": "error",
            "source": "api",
            "message": f"boom {i} " + "x" * 400,
        }
        for i in range(15)
    )
    receiver.reply(200, '{"errcode":0}')
    channels.send("wecom", {"url": receiver.url}, notification(alert(lines=lines)), LOCAL)
    content = receiver.requests[0].json()["markdown"]["content"]
    block = content.split("```")[1].strip().splitlines()
    assert len(block) == 10
    assert block[0].startswith("2027-01-15 08:00:05 error api: boom 5 ")
    assert all(len(line) <= 300 for line in block)
