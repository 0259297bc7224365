"""Alerts page callbacks and the navbar's open-alerts badge: each reads or changes alerts
through ``app.services.alerts`` as the signed-in user and shows the result.

People's actions on alerts and silences are for admins and analysts; rules and channels
change for admins only, checked on the server (the editor and channel form are also built
for admins only). ``ALERTS_LIVE`` holds the last message of the alerts stream, so every
view of alerts redraws when one changes.
"""

from __future__ import annotations

import time

import dash
from dash import ALL, Input, Output, State
from dash.exceptions import PreventUpdate
from flask import request
from pydantic import ValidationError

from app import ids
from app.alerting.rules import RuleBody, RuleError
from app.auth import READERS, callback, current_account
from app.components import alerts as parts
from app.components.grid import AG_THEME_MODE
from app.components.settings import feedback
from app.runtime import runtime
from app.services import ServiceError, alert_channels, alerts
from app.services import alert_view as view
from app.services.accounts import Actor

ADMIN = ("admin",)
FIELD_VALUES = State({"type": ids.ALERTS_RULE_FIELD, "field": ALL}, "value")
FIELD_ERRORS = Output({"type": ids.ALERTS_RULE_ERROR, "field": ALL}, "children")
COMMENTED = {ids.ALERTS_UNACK: "unack", ids.ALERTS_COMMENT: "comment", ids.ALERTS_CLOSE: "close"}
"""The action buttons that take only the comment, and the service's name for each."""
ACTION_DONE = {
    ids.ALERTS_ACK: "Acknowledged.",
    ids.ALERTS_UNACK: "Acknowledgement taken back.",
    ids.ALERTS_COMMENT: "Comment added.",
    ids.ALERTS_CLOSE: "Closed.",
    ids.ALERTS_SILENCE_HOUR: "Silenced for 1 h.",
}
"""Each action button, in the order of ``alert_view.disabled_actions``, and what it did."""
ACTION_BUTTONS = tuple(ACTION_DONE)
SHOWN = {"display": "block"}
HIDDEN = {"display": "none"}


def _actor() -> Actor:
    """The signed-in user and their address, as the services want them."""
    return Actor(current_account(), request.remote_addr)


def _selected(rows: list[dict] | None) -> dict:
    """The grid's selected row; nothing to do when none is selected."""
    if not rows:
        raise PreventUpdate
    return rows[0]


def register(app: dash.Dash) -> None:
    """Attach the Alerts page's callbacks and the navbar badge's to ``app``."""
    _register_badge(app)
    _register_open(app)
    _register_history(app)
    _register_rules(app)
    _register_editor(app)
    _register_channels(app)
    _register_silences(app)
    app.clientside_callback(
        dash.ClientsideFunction("pulseboardAlerts", "alertPanel"),
        Output(ids.ALERTS_SELECTED_PANEL, "style"),
        Input(ids.ALERTS_TABS, "active_tab"),
    )
    app.clientside_callback(
        AG_THEME_MODE,
        Output(ids.ALERTS_PAGE, "data-ag-theme-mode"),
        Input(ids.THEME_STORE, "data"),
    )


def _register_badge(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.NAV_ALERTS_BADGE, "children"),
        Output(ids.NAV_ALERTS_BADGE, "color"),
        Input(ids.ALERTS_LIVE, "data"),
        Input(ids.ALERTS_BADGE_POLL, "n_intervals"),
        roles=READERS,
    )
    def badge(_message, _n):
        """The number of open alerts, red while any fires."""
        open_alerts = alerts.open_alerts(runtime(), time.time())
        return view.badge(open_alerts)


def _register_open(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.ALERTS_OPEN_GRID, "rowData"),
        Input(ids.ALERTS_OPEN_GRID, "id"),
        Input(ids.ALERTS_LIVE, "data"),
        Input(ids.ALERTS_ACTION_FEEDBACK, "children"),
        roles=READERS,
    )
    def load_open(_grid, _message, _done):
        """The open alerts, most severe first; again after each change or action."""
        now = time.time()
        return view.alert_rows(alerts.open_alerts(runtime(), now), now)

    @callback(
        app,
        Output(ids.ALERTS_SELECTED, "data"),
        Input(ids.ALERTS_OPEN_GRID, "selectedRows"),
        Input(ids.ALERTS_HISTORY_GRID, "selectedRows"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def select(open_rows, history_rows):
        """The alert last selected in either grid."""
        rows = open_rows if dash.ctx.triggered_id == ids.ALERTS_OPEN_GRID else history_rows
        return rows[0]["id"] if rows else None

    @callback(
        app,
        Output(ids.ALERTS_DETAIL, "children"),
        *[Output(button, "disabled") for button in ACTION_BUTTONS],
        Input(ids.ALERTS_SELECTED, "data"),
        Input(ids.ALERTS_ACTION_FEEDBACK, "children"),
        roles=READERS,
    )
    def show_detail(alert_id, _done):
        """The selected alert's history and notifications; the actions that fit it."""
        if alert_id is None:
            return parts.detail(None), *[True] * len(ACTION_BUTTONS)
        now = time.time()
        try:
            alert = alerts.get_alert(runtime(), alert_id, now)
        except ServiceError as exc:
            return feedback(exc.message, ok=False), *[True] * len(ACTION_BUTTONS)
        [row] = view.alert_rows([alert], now)
        shown = parts.detail(
            row,
            view.history_entry_rows(alert["history"]),
            view.delivery_rows(alert["notifications"]),
        )
        return shown, *view.disabled_actions(alert)

    @callback(
        app,
        Output(ids.ALERTS_ACTION_FEEDBACK, "children"),
        Output(ids.ALERTS_ACTION_COMMENT, "value"),
        *[Input(button, "n_clicks") for button in ACTION_BUTTONS],
        State(ids.ALERTS_SELECTED, "data"),
        State(ids.ALERTS_ACTION_COMMENT, "value"),
        State(ids.ALERTS_ACTION_UNTIL, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def act(_ack, _unack, _comment, _close, _silence, alert_id, comment, until):
        """Acknowledge, unacknowledge, comment, close or silence the selected alert for 1 h."""
        if alert_id is None:
            raise PreventUpdate
        rt, actor, now, comment = runtime(), _actor(), time.time(), (comment or "").strip()
        button = dash.ctx.triggered_id
        try:
            if button == ids.ALERTS_ACK:
                until_ts = view.parse_time(until, "until")
                alerts.acknowledge(rt, actor, alert_id, comment, until_ts, now)
            elif button in COMMENTED:
                alerts.act(rt, actor, alert_id, COMMENTED[button], comment, now)
            else:
                alerts.silence_alert(rt, actor, alert_id, view.SILENCE_HOUR, comment, now)
        except ServiceError as exc:
            return feedback(view.error_text(exc), ok=False), dash.no_update
        return feedback(ACTION_DONE[button], ok=True), ""


def _register_history(app: dash.Dash) -> None:
    filters = (
        Input(ids.ALERTS_HISTORY_STATE, "value"),
        Input(ids.ALERTS_HISTORY_SEVERITY, "value"),
        Input(ids.ALERTS_HISTORY_RULE, "value"),
        Input(ids.ALERTS_HISTORY_RANGE, "value"),
    )

    @callback(
        app,
        Output(ids.ALERTS_HISTORY_GRID, "rowData"),
        *filters,
        Input(ids.ALERTS_LIVE, "data"),
        roles=READERS,
    )
    def load_history(state, severity, rule_id, span, _message):
        """The alerts the filters select, newest first."""
        now = time.time()
        start, end = view.span_range(span, now)
        page = alerts.list_alerts(
            runtime(),
            now=now,
            state=state or "all",
            severity=view.chosen(severity),
            rule_id=int(rule_id) if view.chosen(rule_id) else None,
            start=start,
            end=end,
            limit=view.HISTORY_ROWS,
        )
        return view.alert_rows(page["items"], now)

    @callback(
        app,
        *[Output(link, "href") for link in ids.ALERTS_HISTORY_DOWNLOADS.values()],
        Input(ids.ALERTS_HISTORY_STATE, "value"),
        Input(ids.ALERTS_HISTORY_RULE, "value"),
        Input(ids.ALERTS_HISTORY_RANGE, "value"),
        roles=READERS,
    )
    def history_downloads(state, rule_id, span):
        """Point the download links at the history the filters select."""
        now = time.time()
        return [
            view.export_href(state, rule_id, span, fmt, now) for fmt in ids.ALERTS_HISTORY_DOWNLOADS
        ]


def _register_rules(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.ALERTS_RULES_GRID, "rowData"),
        Output(ids.ALERTS_HISTORY_RULE, "options"),
        Input(ids.ALERTS_RULES_GRID, "id"),
        Input(ids.ALERTS_LIVE, "data"),
        Input(ids.ALERTS_RULES_FEEDBACK, "children"),
        roles=READERS,
    )
    def load_rules(_grid, _message, _changed):
        """Every rule with a summary of its open alerts, and the history's rule choices."""
        rt = runtime()
        rules = alerts.list_rules(rt)
        rows = view.rule_rows(rules, alerts.open_alerts(rt, time.time()))
        return rows, view.rule_options(rules)

    @callback(
        app,
        Output(ids.ALERTS_RULES_FEEDBACK, "children"),
        Input(ids.ALERTS_RULE_DELETE, "n_clicks"),
        State(ids.ALERTS_RULES_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def delete_rule(_n, rows):
        """Delete the selected rule (its open alerts resolve)."""
        rule = _selected(rows)
        try:
            alerts.delete_rule(runtime(), _actor(), rule["id"], time.time())
        except ServiceError as exc:
            return feedback(view.error_text(exc), ok=False)
        return feedback(f"Deleted rule {rule['name']}.", ok=True)


def _register_editor(app: dash.Dash) -> None:
    app.clientside_callback(
        dash.ClientsideFunction("pulseboardAlerts", "kindFields"),
        Output(ids.ALERTS_EDITOR_METRIC, "style"),
        Output(ids.ALERTS_EDITOR_LOG, "style"),
        Input({"type": ids.ALERTS_RULE_FIELD, "field": "kind"}, "value"),
    )

    @callback(
        app,
        Output(ids.ALERTS_EDITOR, "style"),
        Output(ids.ALERTS_EDITOR_ID, "data"),
        Output(ids.ALERTS_EDITOR_TITLE, "children"),
        Output({"type": ids.ALERTS_RULE_FIELD, "field": ALL}, "value"),
        FIELD_ERRORS,
        Output(ids.ALERTS_METRIC_NAMES, "children"),
        Output({"type": ids.ALERTS_RULE_FIELD, "field": "channels"}, "options"),
        Output(ids.ALERTS_EDITOR_FEEDBACK, "children"),
        Input(ids.ALERTS_RULE_NEW, "n_clicks"),
        Input(ids.ALERTS_RULE_EDIT, "n_clicks"),
        State(ids.ALERTS_RULES_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def open_editor(_new, _edit, rows):
        """Open the editor on a new rule or on the selected one."""
        rt = runtime()
        if dash.ctx.triggered_id == ids.ALERTS_RULE_EDIT:
            rule_id = _selected(rows)["id"]
            body, title = alerts.get_rule(rt, rule_id), f"Edit rule {rows[0]['name']}"
        else:
            rule_id, body, title = None, view.NEW_RULE, "New rule"
        values = view.form_values(body)
        fields = [o["id"]["field"] for o in dash.ctx.outputs_list[3]]
        return (
            SHOWN,
            rule_id,
            title,
            [values[f] for f in fields],
            [None] * len(fields),
            parts.metric_options(rt.metrics.names()),
            view.channel_options(alert_channels.list_channels(rt)),
            None,
        )

    @callback(
        app,
        Output(ids.ALERTS_EDITOR, "style", allow_duplicate=True),
        Input(ids.ALERTS_RULE_CANCEL, "n_clicks"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def close_editor(_n):
        """Hide the editor without saving."""
        return HIDDEN

    @callback(
        app,
        Output(ids.ALERTS_PREVIEW_GRAPH, "figure"),
        Output(ids.ALERTS_PREVIEW_SUMMARY, "children"),
        FIELD_ERRORS,
        Input(ids.ALERTS_RULE_PREVIEW, "n_clicks"),
        FIELD_VALUES,
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def preview(_n, values):
        """The rule's series over the last 24 h, its thresholds and where it would have fired."""
        fields = _field_names()
        try:
            figure, summary = view.preview(runtime(), _body(fields, values), time.time())
        except (RuleError, ValidationError, ServiceError) as exc:
            return dash.no_update, "Correct the marked fields.", _errors(fields, exc)
        return figure, summary, [None] * len(fields)

    @callback(
        app,
        FIELD_ERRORS,
        Output(ids.ALERTS_EDITOR_FEEDBACK, "children", allow_duplicate=True),
        Output(ids.ALERTS_RULES_FEEDBACK, "children", allow_duplicate=True),
        Output(ids.ALERTS_EDITOR, "style", allow_duplicate=True),
        Input(ids.ALERTS_RULE_SAVE, "n_clicks"),
        FIELD_VALUES,
        State(ids.ALERTS_EDITOR_ID, "data"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def save(_n, values, rule_id):
        """Create or replace the rule and close the editor; each refused field's message
        shows beside it."""
        fields = _field_names()
        rt, actor, now = runtime(), _actor(), time.time()
        try:
            body = RuleBody.model_validate(_body(fields, values))
            if rule_id is None:
                saved = alerts.create_rule(rt, actor, body, now)
            else:
                saved = alerts.replace_rule(rt, actor, rule_id, body, now)
        except (RuleError, ValidationError, ServiceError) as exc:
            failed = feedback("The rule was not saved: correct the marked fields.", ok=False)
            return _errors(fields, exc), failed, dash.no_update, dash.no_update
        done = feedback(view.saved_text(saved), ok=True)
        return [None] * len(fields), None, done, HIDDEN


def _field_names() -> list[str]:
    """The editor fields in the order of the callback's pattern-matching values."""
    return [s["id"]["field"] for s in dash.ctx.states_list[0]]


def _body(fields: list[str], values: list) -> dict:
    return view.form_body(dict(zip(fields, values, strict=True)))


def _errors(fields: list[str], exc: Exception) -> list[str | None]:
    errors = view.field_errors(exc)
    return [errors.get(f) for f in fields]


def _register_channels(app: dash.Dash) -> None:
    app.clientside_callback(
        dash.ClientsideFunction("pulseboardAlerts", "channelFields"),
        Output(ids.ALERTS_CHANNEL_URL_FIELD, "style"),
        Output(ids.ALERTS_CHANNEL_TO_FIELD, "style"),
        Input(ids.ALERTS_CHANNEL_KIND, "value"),
    )

    @callback(
        app,
        Output(ids.ALERTS_CHANNELS_GRID, "rowData"),
        Input(ids.ALERTS_CHANNELS_GRID, "id"),
        Input(ids.ALERTS_CHANNEL_FEEDBACK, "children"),
        roles=READERS,
    )
    def load_channels(_grid, _changed):
        """Every channel, its secrets masked."""
        return view.channel_rows(alert_channels.list_channels(runtime()))

    @callback(
        app,
        Output(ids.ALERTS_DELIVERIES_GRID, "rowData"),
        Input(ids.ALERTS_DELIVERIES_GRID, "id"),
        Input(ids.ALERTS_LIVE, "data"),
        Input(ids.ALERTS_CHANNEL_ANSWER, "children"),
        roles=READERS,
    )
    def load_deliveries(_grid, _message, _tested):
        """The delivery log, newest first."""
        return view.delivery_rows(alerts.list_deliveries(runtime())["items"])

    @callback(
        app,
        Output(ids.ALERTS_CHANNEL_NAME, "value"),
        Output(ids.ALERTS_CHANNEL_KIND, "value"),
        Output(ids.ALERTS_CHANNEL_ENABLED, "value"),
        Output(ids.ALERTS_CHANNEL_URL, "placeholder"),
        Input(ids.ALERTS_CHANNELS_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def select_channel(rows):
        """Fill the form from the selected channel (URL and secret stay as saved if blank)."""
        row = _selected(rows)
        return row["name"], row["kind"], row["enabled"] == "yes", "unchanged if left blank"

    @callback(
        app,
        Output(ids.ALERTS_CHANNELS_GRID, "selectedRows"),
        Output(ids.ALERTS_CHANNEL_NAME, "value", allow_duplicate=True),
        Output(ids.ALERTS_CHANNEL_URL, "placeholder", allow_duplicate=True),
        Input(ids.ALERTS_CHANNEL_NEW, "n_clicks"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def new_channel(_n):
        """Clear the selection and the form for a new channel."""
        return [], "", "https://…"

    @callback(
        app,
        Output(ids.ALERTS_CHANNEL_FEEDBACK, "children"),
        Output(ids.ALERTS_CHANNEL_SECRET, "value"),
        Input(ids.ALERTS_CHANNEL_SAVE, "n_clicks"),
        Input(ids.ALERTS_CHANNEL_DELETE, "n_clicks"),
        State(ids.ALERTS_CHANNELS_GRID, "selectedRows"),
        State(ids.ALERTS_CHANNEL_NAME, "value"),
        State(ids.ALERTS_CHANNEL_KIND, "value"),
        State(ids.ALERTS_CHANNEL_URL, "value"),
        State(ids.ALERTS_CHANNEL_SECRET, "value"),
        State(ids.ALERTS_CHANNEL_TO, "value"),
        State(ids.ALERTS_CHANNEL_ENABLED, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def change_channel(_save, _delete, rows, *form):
        """Create, replace (a channel is selected) or delete a channel; the secret box is
        emptied either way."""
        rt, actor, now = runtime(), _actor(), time.time()
        selected = rows[0]["id"] if rows else None
        try:
            if dash.ctx.triggered_id == ids.ALERTS_CHANNEL_DELETE:
                alert_channels.delete_channel(rt, actor, _selected(rows)["id"], now)
                return feedback(f"Deleted channel {rows[0]['name']}.", ok=True), ""
            body = view.channel_body(*form, keep_url=selected is not None)
            if selected is None:
                saved = alert_channels.create_channel(rt, actor, body, now)
            else:
                saved = alert_channels.replace_channel(rt, actor, selected, body, now)
        except ServiceError as exc:
            return feedback(view.error_text(exc), ok=False), ""
        return feedback(f"Saved channel {saved['name']}.", ok=True), ""

    @callback(
        app,
        Output(ids.ALERTS_CHANNEL_ANSWER, "children"),
        Input(ids.ALERTS_CHANNEL_TEST, "n_clicks"),
        State(ids.ALERTS_CHANNELS_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def test_channel(_n, rows):
        """Send a sample notification through the selected channel; show the answer."""
        channel = _selected(rows)
        try:
            answer = alert_channels.test_channel(runtime(), _actor(), channel["id"], time.time())
        except ServiceError as exc:
            return feedback(view.error_text(exc), ok=False)
        return parts.channel_answer(answer)


def _register_silences(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.ALERTS_SILENCES_GRID, "rowData"),
        Input(ids.ALERTS_SILENCES_GRID, "id"),
        Input(ids.ALERTS_SILENCE_FEEDBACK, "children"),
        Input(ids.ALERTS_ACTION_FEEDBACK, "children"),
        roles=READERS,
    )
    def load_silences(_grid, _changed, _acted):
        """Every silence, active and pending ones first."""
        return view.silence_rows(alerts.list_silences(runtime(), time.time(), "all"))

    @callback(
        app,
        Output(ids.ALERTS_SILENCE_FEEDBACK, "children"),
        Input(ids.ALERTS_SILENCE_CREATE, "n_clicks"),
        State(ids.ALERTS_SILENCE_MATCHERS, "value"),
        State(ids.ALERTS_SILENCE_STARTS, "value"),
        State(ids.ALERTS_SILENCE_ENDS, "value"),
        State(ids.ALERTS_SILENCE_COMMENT, "value"),
        State(ids.ALERTS_SILENCE_DAYS, "value"),
        State(ids.ALERTS_SILENCE_FROM, "value"),
        State(ids.ALERTS_SILENCE_TO, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def create_silence(_n, *form):
        """Create a silence from the form."""
        now = time.time()
        try:
            body = view.silence_body(*form, now=now)
            alerts.create_silence(runtime(), _actor(), now=now, **body)
        except ServiceError as exc:
            return feedback(view.error_text(exc), ok=False)
        return feedback("Silence created.", ok=True)

    @callback(
        app,
        Output(ids.ALERTS_SILENCE_FEEDBACK, "children", allow_duplicate=True),
        Input(ids.ALERTS_SILENCE_EXPIRE, "n_clicks"),
        State(ids.ALERTS_SILENCES_GRID, "selectedRows"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def expire_silence(_n, rows):
        """End the selected silence now."""
        silence = _selected(rows)
        try:
            alerts.expire_silence(runtime(), _actor(), silence["id"], time.time())
        except ServiceError as exc:
            return feedback(view.error_text(exc), ok=False)
        return feedback(f"Silence {silence['matchers']} expired.", ok=True)
