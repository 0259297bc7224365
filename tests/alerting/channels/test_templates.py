"""Templates: Jinja2 in a sandbox that never runs what it blocks, a failing template
shown as its own text with a note instead of stopping the notification, syntax errors
reported with their line; and the default titles."""

from __future__ import annotations

from app.alerting import templates
from tests.alerting.channels.conftest import alert, notification

CONTEXT = {
    "labels": {"host": "web-1", "mountpoint": "/"},
    "value": 97.256,
    "severity": "critical",
    "rule": "Disk almost full",
    "started_at": "2027-01-15 08:00:00 UTC",
    "url": "http://pulse.example/alerts/7",
    "lines": [],
}


def test_a_template_renders_labels_and_value_with_filters():
    text = "{{ labels.mountpoint }} on {{ labels.host }} is {{ value | round(1) }}% full"
    assert templates.render(text, **CONTEXT) == "/ on web-1 is 97.3% full"


def test_text_is_not_html_escaped():
    assert templates.render("{{ rule }} <b>&</b>", rule="a<b") == "a<b <b>&</b>"


def test_the_sandbox_refuses_attribute_access_to_python_internals():
    for attack in (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ labels.__class__.__init__.__globals__ }}",
        "{{ '{0.__class__}'.format(value) }}",
    ):
        shown = templates.render(attack, **CONTEXT)
        assert shown.startswith(attack)
        assert "template error" in shown
        assert "<class" not in shown


def test_a_missing_label_shows_the_template_with_a_note_instead_of_failing():
    shown = templates.render("{{ labels.nope }} is down", **CONTEXT)
    assert shown.startswith("{{ labels.nope }} is down [template error:")
    assert "nope" in shown


def test_a_filter_given_the_wrong_type_shows_the_template_too():
    assert "template error" in templates.render("{{ value | round(1) }}", value=None)


def test_check_reports_a_syntax_error_with_its_line():
    assert templates.check("fine {{ labels.host }}") is None
    error = templates.check("line one\n{{ labels.host }\nline three")
    assert error is not None and error.startswith("line 2: ")
    assert templates.check("{% if x %}no end").startswith("line 1: ")


def test_check_reports_a_name_no_notification_provides():
    assert templates.check("{{ lables.host }}").startswith("unknown name 'lables'; templates know")
    assert templates.check("{% for l in lines %}{{ l.message }}{% endfor %} {{ url }}") is None


def test_the_title_counts_firing_alerts_as_alertmanager_does():
    two = notification(alert(), alert(id=8, labels={**alert().labels, "host": "web-2"}))
    assert templates.title(two) == "[FIRING:2] Disk almost full (web-1)"
    resolved = notification(alert(status="resolved", ends_at=1.9e9), group_labels={})
    assert templates.title(resolved) == "[RESOLVED] Disk almost full"


def test_a_test_notification_is_marked_and_a_digest_says_what_it_merged():
    msg = templates.message(notification(test=True, digest=3))
    assert msg.title == "[TEST] [FIRING:1] Disk almost full (web-1)"
    assert "+3 more notifications merged (rate limit)" in msg.notes
    text = templates.plain_text(msg)
    assert "+3 more notifications merged (rate limit)" in text
    assert "This is a test notification" in text


def test_a_title_is_one_line_whatever_the_labels_hold():
    sneaky = notification(group_labels={"host": "web-1\r\nBcc: x@y.z"})
    assert "\n" not in templates.title(sneaky)


def test_a_message_spells_out_at_most_ten_alerts_and_counts_the_rest():
    many = [alert(id=i, labels={**alert().labels, "host": f"web-{i}"}) for i in range(13)]
    msg = templates.message(notification(*many))
    assert len(msg.alerts) == 10
    assert "+3 more alerts in this group" in msg.notes


def test_only_web_links_are_offered():
    evil = alert(annotations={"runbook_url": "javascript:alert(1)"}, generator_url="data:x")
    msg = templates.message(notification(evil))
    assert [link.text for link in msg.alerts[0].links] == ["Acknowledge"]
