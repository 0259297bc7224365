"""Settings callbacks: each calls an account service as the signed-in user and reports back.

User and audit callbacks are admin-only on the server; tokens and one's own password are
for every console user (the services keep analysts to their own account). Passwords are
never sent back to the browser, and a new token's value only ever goes to the one-time box.
"""

from collections.abc import Callable

import dash
from dash import Input, Output, State
from dash.exceptions import PreventUpdate
from flask import request

from app import ids
from app.auth import READERS, callback, current_account
from app.components.grid import AG_THEME_MODE
from app.components.settings import feedback, token_once
from app.runtime import runtime
from app.services import accounts
from app.services import settings as view
from app.services.settings import ACCOUNT_ERRORS
from storage.accounts import Account

ADMIN = ("admin",)
NEW_USER_FIELDS = {"name": "user name"}
TOKEN_FIELDS = {"name": "token name"}
PASSWORD_FIELDS = {"new_password": "new password", "repeat": "repeated password"}
SELECTED_USER_BUTTONS = (
    ids.SETTINGS_USER_ROLE_SUBMIT,
    ids.SETTINGS_USER_DISABLE,
    ids.SETTINGS_USER_ENABLE,
    ids.SETTINGS_USER_PASSWORD_SUBMIT,
)


def _actor() -> accounts.Actor:
    """The signed-in user and their address, as the services want them."""
    return accounts.Actor(current_account(), request.remote_addr)


def _selected_id(rows: list[dict] | None) -> int:
    """The id of the grid's selected row; nothing to do when none is selected."""
    if not rows:
        raise PreventUpdate
    return rows[0]["id"]


def _users_changed() -> tuple[list[dict], list[dict]]:
    """Fresh users grid rows and "token for" options."""
    rows = view.user_rows(runtime(), _actor())
    return rows, view.user_options(rows)


def _tokens() -> list[dict]:
    return view.token_rows(accounts.list_tokens(runtime(), _actor()))


def register(app: dash.Dash) -> None:
    """Attach the Settings page's callbacks to ``app``."""
    _register_users(app)
    _register_tokens(app)
    _register_password(app)
    _register_audit(app)
    app.clientside_callback(
        AG_THEME_MODE,
        Output(ids.SETTINGS_PAGE, "data-ag-theme-mode"),
        Input(ids.THEME_STORE, "data"),
    )


def _register_users(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.SETTINGS_USERS_GRID, "rowData"),
        Output(ids.SETTINGS_TOKEN_USER, "options"),
        Output(ids.SETTINGS_USER_FEEDBACK, "children"),
        Input(ids.SETTINGS_USERS_GRID, "id"),
        roles=ADMIN,
    )
    def load_users(_grid):
        """Fill the users grid and the token owner choices when the page opens."""
        try:
            return *_users_changed(), None
        except ACCOUNT_ERRORS as exc:
            return dash.no_update, dash.no_update, feedback(view.error_message(exc), ok=False)

    @callback(
        app,
        Output(ids.SETTINGS_ADD_FEEDBACK, "children"),
        Output(ids.SETTINGS_ADD_PASSWORD, "value"),
        Output(ids.SETTINGS_ADD_NAME, "value"),
        Output(ids.SETTINGS_USERS_GRID, "rowData", allow_duplicate=True),
        Output(ids.SETTINGS_TOKEN_USER, "options", allow_duplicate=True),
        Input(ids.SETTINGS_ADD_SUBMIT, "n_clicks"),
        State(ids.SETTINGS_ADD_NAME, "value"),
        State(ids.SETTINGS_ADD_ROLE, "value"),
        State(ids.SETTINGS_ADD_PASSWORD, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def add_user(_n, name, role, password):
        """Create a user from the form; the password box is emptied either way."""
        try:
            account = accounts.create_user(
                runtime(), _actor(), name or "", role or "", password or ""
            )
            rows, options = _users_changed()
        except ACCOUNT_ERRORS as exc:
            message = view.error_message(exc, NEW_USER_FIELDS)
            return feedback(message, ok=False), "", dash.no_update, dash.no_update, dash.no_update
        done = feedback(f"Created user {account.name} ({account.role}).", ok=True)
        return done, "", "", rows, options

    @callback(
        app,
        Output(ids.SETTINGS_SELECTED_USER, "children"),
        Output(ids.SETTINGS_USER_ROLE, "value"),
        *[Output(button, "disabled") for button in SELECTED_USER_BUTTONS],
        Input(ids.SETTINGS_USERS_GRID, "selectedRows"),
        roles=ADMIN,
    )
    def select_user(rows):
        """Name the selected user and enable the actions on them."""
        if not rows:
            return "none", None, *[True] * len(SELECTED_USER_BUTTONS)
        user = rows[0]
        return user["name"], user["role"], *[False] * len(SELECTED_USER_BUTTONS)

    @callback(
        app,
        Output(ids.SETTINGS_USER_FEEDBACK, "children", allow_duplicate=True),
        Output(ids.SETTINGS_USERS_GRID, "rowData", allow_duplicate=True),
        Input(ids.SETTINGS_USER_ROLE_SUBMIT, "n_clicks"),
        State(ids.SETTINGS_USERS_GRID, "selectedRows"),
        State(ids.SETTINGS_USER_ROLE, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def change_role(_n, rows, role):
        """Give the selected user the chosen role."""
        return _update_selected(rows, lambda a: f"{a.name} is now {a.role}.", role=role or "")

    @callback(
        app,
        Output(ids.SETTINGS_USER_FEEDBACK, "children", allow_duplicate=True),
        Output(ids.SETTINGS_USERS_GRID, "rowData", allow_duplicate=True),
        Input(ids.SETTINGS_USER_DISABLE, "n_clicks"),
        Input(ids.SETTINGS_USER_ENABLE, "n_clicks"),
        State(ids.SETTINGS_USERS_GRID, "selectedRows"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def set_disabled(_disable, _enable, rows):
        """Disable or enable the selected user (they are signed out at once when disabled)."""
        disabled = dash.ctx.triggered_id == ids.SETTINGS_USER_DISABLE
        return _update_selected(
            rows,
            lambda a: f"{a.name} is {'disabled' if a.disabled else 'enabled'}.",
            disabled=disabled,
        )

    @callback(
        app,
        Output(ids.SETTINGS_USER_FEEDBACK, "children", allow_duplicate=True),
        Output(ids.SETTINGS_USER_PASSWORD, "value"),
        Input(ids.SETTINGS_USER_PASSWORD_SUBMIT, "n_clicks"),
        State(ids.SETTINGS_USERS_GRID, "selectedRows"),
        State(ids.SETTINGS_USER_PASSWORD, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def reset_password(_n, rows, password):
        """Set a new password for the selected user; the box is emptied either way."""
        user_id = _selected_id(rows)
        try:
            account = accounts.update_user(runtime(), _actor(), user_id, password=password or "")
        except ACCOUNT_ERRORS as exc:
            return feedback(view.error_message(exc), ok=False), ""
        return feedback(f"The password of {account.name} was reset.", ok=True), ""


def _register_tokens(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.SETTINGS_TOKENS_GRID, "rowData"),
        Output(ids.SETTINGS_TOKEN_FEEDBACK, "children"),
        Input(ids.SETTINGS_TOKENS_GRID, "id"),
        roles=READERS,
    )
    def load_tokens(_grid):
        """Fill the tokens grid: every token for admins, one's own for others."""
        try:
            return _tokens(), None
        except ACCOUNT_ERRORS as exc:
            return dash.no_update, feedback(view.error_message(exc), ok=False)

    @callback(
        app,
        Output(ids.SETTINGS_TOKEN_ONCE, "children"),
        Output(ids.SETTINGS_TOKEN_NAME, "value"),
        Output(ids.SETTINGS_TOKENS_GRID, "rowData", allow_duplicate=True),
        Output(ids.SETTINGS_TOKEN_FEEDBACK, "children", allow_duplicate=True),
        Input(ids.SETTINGS_TOKEN_SUBMIT, "n_clicks"),
        State(ids.SETTINGS_TOKEN_USER, "value"),
        State(ids.SETTINGS_TOKEN_NAME, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def create_token(_n, user_id, name):
        """Create a token and show its value once, in the one-time box only."""
        try:
            info, value = accounts.create_token(
                runtime(), _actor(), int(user_id or 0), (name or "").strip()
            )
            rows = _tokens()
        except ACCOUNT_ERRORS as exc:
            message = view.error_message(exc, TOKEN_FIELDS)
            return dash.no_update, dash.no_update, dash.no_update, feedback(message, ok=False)
        done = feedback(f"Created token {info.name} for {info.user_name}.", ok=True)
        return token_once(value), "", rows, done

    @callback(
        app,
        Output(ids.SETTINGS_TOKEN_ONCE, "children", allow_duplicate=True),
        Input(ids.SETTINGS_TOKEN_DONE, "n_clicks"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def forget_token(n_clicks):
        """Remove the one-time box once the user has copied the token."""
        if not n_clicks:
            raise PreventUpdate
        return None

    @callback(
        app,
        Output(ids.SETTINGS_TOKEN_FEEDBACK, "children", allow_duplicate=True),
        Output(ids.SETTINGS_TOKENS_GRID, "rowData", allow_duplicate=True),
        Input(ids.SETTINGS_TOKEN_REVOKE, "n_clicks"),
        State(ids.SETTINGS_TOKENS_GRID, "selectedRows"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def revoke_token(_n, rows):
        """Revoke the selected token; it stops working at once."""
        token_id = _selected_id(rows)
        try:
            accounts.revoke_token(runtime(), _actor(), token_id)
            tokens = _tokens()
        except ACCOUNT_ERRORS as exc:
            return feedback(view.error_message(exc), ok=False), dash.no_update
        name = next(row["name"] for row in tokens if row["id"] == token_id)
        return feedback(f"Revoked token {name}.", ok=True), tokens


def _register_password(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.SETTINGS_PASSWORD_FEEDBACK, "children"),
        Output(ids.SETTINGS_PASSWORD_CURRENT, "value"),
        Output(ids.SETTINGS_PASSWORD_NEW, "value"),
        Output(ids.SETTINGS_PASSWORD_REPEAT, "value"),
        Input(ids.SETTINGS_PASSWORD_SUBMIT, "n_clicks"),
        State(ids.SETTINGS_PASSWORD_CURRENT, "value"),
        State(ids.SETTINGS_PASSWORD_NEW, "value"),
        State(ids.SETTINGS_PASSWORD_REPEAT, "value"),
        roles=READERS,
        prevent_initial_call=True,
    )
    def change_password(_n, current, new, repeat):
        """Change one's own password; every box is emptied either way."""
        try:
            view.check_repeat(new, repeat)
            accounts.change_own_password(runtime(), _actor(), current or "", new or "")
        except ACCOUNT_ERRORS as exc:
            return feedback(view.error_message(exc, PASSWORD_FIELDS), ok=False), "", "", ""
        return feedback("Your password was changed.", ok=True), "", "", ""


def _register_audit(app: dash.Dash) -> None:
    @callback(
        app,
        Output(ids.SETTINGS_AUDIT_GRID, "rowData"),
        Output(ids.SETTINGS_AUDIT_CURSOR, "data"),
        Output(ids.SETTINGS_AUDIT_MORE, "disabled"),
        Output(ids.SETTINGS_AUDIT_FEEDBACK, "children"),
        Input(ids.SETTINGS_AUDIT_ACTOR, "value"),
        Input(ids.SETTINGS_AUDIT_ACTION, "value"),
        # After a change to users or tokens, show its audit entry.
        Input(ids.SETTINGS_USERS_GRID, "rowData"),
        Input(ids.SETTINGS_TOKENS_GRID, "rowData"),
        roles=ADMIN,
    )
    def load_audit(by, action, _users, _tokens):
        """The newest audit entries matching the filters."""
        return _audit_rows(by, action, None, lambda rows: rows)

    @callback(
        app,
        Output(ids.SETTINGS_AUDIT_GRID, "rowTransaction"),
        Output(ids.SETTINGS_AUDIT_CURSOR, "data", allow_duplicate=True),
        Output(ids.SETTINGS_AUDIT_MORE, "disabled", allow_duplicate=True),
        Output(ids.SETTINGS_AUDIT_FEEDBACK, "children", allow_duplicate=True),
        Input(ids.SETTINGS_AUDIT_MORE, "n_clicks"),
        State(ids.SETTINGS_AUDIT_CURSOR, "data"),
        State(ids.SETTINGS_AUDIT_ACTOR, "value"),
        State(ids.SETTINGS_AUDIT_ACTION, "value"),
        roles=ADMIN,
        prevent_initial_call=True,
    )
    def more_audit(_n, cursor, by, action):
        """Append the next older page of entries below the ones shown."""
        if cursor is None:
            raise PreventUpdate
        return _audit_rows(by, action, cursor, lambda rows: {"add": rows})

    @callback(
        app,
        *[Output(link, "href") for link in ids.SETTINGS_AUDIT_DOWNLOADS.values()],
        Input(ids.SETTINGS_AUDIT_ACTOR, "value"),
        Input(ids.SETTINGS_AUDIT_ACTION, "value"),
        roles=ADMIN,
    )
    def audit_downloads(by, action):
        """Point the download links at the entries the filters select."""
        return [view.audit_download_href(by, action, fmt) for fmt in ids.SETTINGS_AUDIT_DOWNLOADS]


def _update_selected(rows: list[dict] | None, message: Callable[[Account], str], **change):
    """Apply ``change`` to the user selected in the grid; feedback and the new user rows."""
    user_id = _selected_id(rows)
    try:
        account = accounts.update_user(runtime(), _actor(), user_id, **change)
        users, _ = _users_changed()
    except ACCOUNT_ERRORS as exc:
        return feedback(view.error_message(exc), ok=False), dash.no_update
    return feedback(message(account), ok=True), users


def _audit_rows(
    by: str | None,
    action: str | None,
    before_id: int | None,
    as_grid: Callable[[list[dict]], object],
):
    """A page of audit entries for the grid (``as_grid`` replaces or appends rows), the
    next cursor, whether "load more" is off, and feedback."""
    try:
        rows, cursor = view.audit_page(
            runtime(), _actor(), by=by, action=action, before_id=before_id
        )
    except ACCOUNT_ERRORS as exc:
        failed = feedback(view.error_message(exc), ok=False)
        return dash.no_update, dash.no_update, dash.no_update, failed
    return as_grid(rows), cursor, cursor is None, None
