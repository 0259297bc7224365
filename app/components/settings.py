"""Sections of the Settings page: account, own password, tokens, users and audit.

Text from the database reaches the page only as component children or grid cell values,
both rendered as text; nothing here is ever interpreted as HTML.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app import ids
from app.components.grid import grid
from app.services.settings import audit_download_href
from storage.accounts import ROLES, Account

ROLE_OPTIONS = [{"label": role, "value": role} for role in ROLES]
TIME_WIDTH = 165
"""Pixels a ``YYYY-MM-DD HH:MM:SS`` cell needs."""


def feedback(message: str, ok: bool) -> dbc.Alert:
    """A success or failure note after an action; ``message`` is shown as text."""
    icon = "bi-check-circle-fill" if ok else "bi-exclamation-octagon-fill"
    return dbc.Alert(
        [html.I(className=f"bi {icon} me-2"), message],
        color="success" if ok else "danger",
        dismissable=True,
        className="mt-2 mb-0 py-2",
    )


def section(title: str, body: list, section_id: str | None = None) -> dbc.Card:
    """A titled card holding one section of the page."""
    return dbc.Card(
        [dbc.CardHeader(html.H5(title, className="mb-0")), dbc.CardBody(body)],
        id=section_id or f"settings-section-{title.lower().replace(' ', '-')}",
        className="mb-3",
    )


def field(label: str, control) -> html.Div:
    """A labelled form control."""
    return html.Div([dbc.Label(label, html_for=control.id, className="small mb-1"), control])


def hidden_label(text: str, control_id: str) -> dbc.Label:
    """A label for screen readers where the context already tells sighted users."""
    return dbc.Label(text, html_for=control_id, className="visually-hidden")


def password_input(input_id: str, autocomplete: str = "new-password") -> dbc.Input:
    """A password box the browser may fill but never shows."""
    return dbc.Input(
        id=input_id, type="password", autoComplete=autocomplete, maxLength=1024, size="sm"
    )


def account_section(account: Account) -> dbc.Card:
    """Who is signed in: name and role."""
    return section(
        "Your account",
        [
            html.Dl(
                [
                    html.Dt("Name", className="col-4 fw-normal text-body-secondary"),
                    html.Dd(account.name, className="col-8 mb-1 text-break"),
                    html.Dt("Role", className="col-4 fw-normal text-body-secondary"),
                    html.Dd(dbc.Badge(account.role, color="secondary"), className="col-8 mb-0"),
                ],
                className="row mb-0",
            )
        ],
        ids.SETTINGS_ACCOUNT,
    )


def password_section() -> dbc.Card:
    """Change one's own password."""
    return section(
        "Change your password",
        [
            field("Current password", password_input(ids.SETTINGS_PASSWORD_CURRENT, "off")),
            field("New password (8 or more characters)", password_input(ids.SETTINGS_PASSWORD_NEW)),
            field("Repeat the new password", password_input(ids.SETTINGS_PASSWORD_REPEAT)),
            dbc.Button(
                "Change password", id=ids.SETTINGS_PASSWORD_SUBMIT, size="sm", className="mt-2"
            ),
            html.Div(id=ids.SETTINGS_PASSWORD_FEEDBACK),
        ],
    )


def tokens_section(account: Account, admin: bool) -> dbc.Card:
    """Create a token (admins for anyone, others for themselves), list and revoke tokens."""
    owner = dbc.Select(
        id=ids.SETTINGS_TOKEN_USER,
        options=[{"label": f"{account.name} ({account.role})", "value": account.id}],
        value=account.id,
        disabled=not admin,
        size="sm",
    )
    columns = [
        {"field": "name", "headerName": "Name"},
        {"field": "created", "headerName": "Created", "minWidth": TIME_WIDTH},
        {"field": "last_used", "headerName": "Last used", "minWidth": TIME_WIDTH},
        {"field": "revoked", "headerName": "Revoked", "minWidth": TIME_WIDTH},
    ]
    if admin:
        columns.insert(0, {"field": "user", "headerName": "User"})
    return section(
        "API tokens",
        [
            dbc.Row(
                [
                    dbc.Col(field("For user", owner), xs=12, md=5),
                    dbc.Col(
                        field(
                            "Token name",
                            dbc.Input(
                                id=ids.SETTINGS_TOKEN_NAME,
                                placeholder="e.g. log shipper",
                                maxLength=100,
                                autoComplete="off",
                                size="sm",
                            ),
                        ),
                        xs=12,
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Create token",
                            id=ids.SETTINGS_TOKEN_SUBMIT,
                            size="sm",
                            className="w-100",
                        ),
                        xs=12,
                        md=3,
                    ),
                ],
                className="g-2 align-items-end mb-2",
            ),
            html.Div(id=ids.SETTINGS_TOKEN_ONCE),
            grid(ids.SETTINGS_TOKENS_GRID, columns, height=220, selectable=True, fit=True),
            dbc.Button(
                "Revoke selected token",
                id=ids.SETTINGS_TOKEN_REVOKE,
                color="danger",
                outline=True,
                size="sm",
                className="mt-2",
            ),
            html.Div(id=ids.SETTINGS_TOKEN_FEEDBACK),
        ],
    )


def token_once(value: str) -> dbc.Alert:
    """The new token, shown this once, with a copy button and a warning."""
    return dbc.Alert(
        [
            html.Div(
                [
                    html.I(className="bi bi-exclamation-triangle-fill me-2"),
                    html.Strong("Copy this token now: it will not be shown again."),
                ],
                className="mb-2",
            ),
            html.Div(
                [
                    html.Code(value, id=ids.SETTINGS_TOKEN_VALUE, className="token-value"),
                    dcc.Clipboard(
                        target_id=ids.SETTINGS_TOKEN_VALUE,
                        title="Copy the token",
                        className="btn btn-sm btn-outline-secondary token-copy",
                    ),
                ],
                className="d-flex align-items-center gap-2",
            ),
            dbc.Button(
                "I have copied it",
                id=ids.SETTINGS_TOKEN_DONE,
                color="warning",
                size="sm",
                className="mt-2",
            ),
        ],
        color="warning",
        className="mb-2",
    )


def users_section() -> dbc.Card:
    """Admins: the users grid, the add-user form and actions on the selected user."""
    add_form = html.Div(
        [
            html.H6("Add a user"),
            field(
                "Name",
                dbc.Input(id=ids.SETTINGS_ADD_NAME, maxLength=64, autoComplete="off", size="sm"),
            ),
            field(
                "Role",
                dbc.Select(
                    id=ids.SETTINGS_ADD_ROLE, options=ROLE_OPTIONS, value="analyst", size="sm"
                ),
            ),
            field("Password (8 or more characters)", password_input(ids.SETTINGS_ADD_PASSWORD)),
            dbc.Button("Add user", id=ids.SETTINGS_ADD_SUBMIT, size="sm", className="mt-2"),
            html.Div(id=ids.SETTINGS_ADD_FEEDBACK),
        ]
    )
    columns = [
        {"field": "name", "headerName": "Name"},
        {"field": "role", "headerName": "Role"},
        {"field": "disabled", "headerName": "Disabled"},
        {"field": "created", "headerName": "Created", "minWidth": TIME_WIDTH},
    ]
    selected = html.Div(
        [
            html.Div(
                ["Selected user: ", html.Strong("none", id=ids.SETTINGS_SELECTED_USER)],
                className="small mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.InputGroup(
                            [
                                hidden_label("New role", ids.SETTINGS_USER_ROLE),
                                dbc.Select(
                                    id=ids.SETTINGS_USER_ROLE, options=ROLE_OPTIONS, size="sm"
                                ),
                                dbc.Button(
                                    "Change role", id=ids.SETTINGS_USER_ROLE_SUBMIT, disabled=True
                                ),
                            ],
                            size="sm",
                        ),
                        xs=12,
                        md=5,
                    ),
                    dbc.Col(
                        dbc.ButtonGroup(
                            [
                                dbc.Button(
                                    "Disable",
                                    id=ids.SETTINGS_USER_DISABLE,
                                    color="danger",
                                    outline=True,
                                    disabled=True,
                                ),
                                dbc.Button(
                                    "Enable",
                                    id=ids.SETTINGS_USER_ENABLE,
                                    color="success",
                                    outline=True,
                                    disabled=True,
                                ),
                            ],
                            size="sm",
                        ),
                        xs="auto",
                    ),
                    dbc.Col(
                        dbc.InputGroup(
                            [
                                hidden_label("New password", ids.SETTINGS_USER_PASSWORD),
                                dbc.Input(
                                    id=ids.SETTINGS_USER_PASSWORD,
                                    type="password",
                                    autoComplete="new-password",
                                    maxLength=1024,
                                    placeholder="new password",
                                ),
                                dbc.Button(
                                    "Reset password",
                                    id=ids.SETTINGS_USER_PASSWORD_SUBMIT,
                                    disabled=True,
                                ),
                            ],
                            size="sm",
                        ),
                        xs=12,
                        md=True,
                    ),
                ],
                className="g-2",
            ),
            html.Div(id=ids.SETTINGS_USER_FEEDBACK),
        ],
        className="mt-2",
    )
    return section(
        "Users",
        [
            dbc.Row(
                [
                    dbc.Col(add_form, xs=12, lg=3, className="mb-3"),
                    dbc.Col(
                        [
                            grid(
                                ids.SETTINGS_USERS_GRID,
                                columns,
                                height=260,
                                selectable=True,
                                fit=True,
                            ),
                            selected,
                        ],
                        xs=12,
                        lg=9,
                    ),
                ],
                className="g-3",
            )
        ],
    )


def audit_downloads() -> html.Div:
    """Download links for the audit entries the grid's filters select (every page of
    them); the callbacks keep their addresses in step with the filters."""
    return html.Div(
        [
            html.Span("Download", className="small text-body-secondary me-2"),
            dbc.ButtonGroup(
                [
                    html.A(
                        fmt.upper(),
                        id=link_id,
                        href=audit_download_href(None, None, fmt),
                        download="",
                        className="btn btn-sm btn-outline-primary",
                    )
                    for fmt, link_id in ids.SETTINGS_AUDIT_DOWNLOADS.items()
                ],
                size="sm",
            ),
        ],
        className="d-flex align-items-center",
    )


def audit_section() -> dbc.Card:
    """Admins: recent audit entries, filtered by actor and action, paged backwards."""
    columns = [
        {"field": "time", "headerName": "Time (UTC)", "minWidth": TIME_WIDTH, "maxWidth": 190},
        {"field": "actor", "headerName": "Actor", "maxWidth": 160},
        {"field": "action", "headerName": "Action", "maxWidth": 160},
        {"field": "target", "headerName": "Target", "maxWidth": 160},
        {"field": "from", "headerName": "From", "maxWidth": 140},
        {"field": "details", "headerName": "Details", "tooltipField": "details", "minWidth": 200},
    ]
    return section(
        "Audit log",
        [
            dbc.Row(
                [
                    dbc.Col(
                        field(
                            "Actor",
                            dbc.Input(
                                id=ids.SETTINGS_AUDIT_ACTOR,
                                placeholder="user name",
                                debounce=True,
                                autoComplete="off",
                                size="sm",
                            ),
                        ),
                        xs=6,
                        md=3,
                    ),
                    dbc.Col(
                        field(
                            "Action",
                            dbc.Input(
                                id=ids.SETTINGS_AUDIT_ACTION,
                                placeholder="e.g. user. or token.create",
                                debounce=True,
                                autoComplete="off",
                                size="sm",
                            ),
                        ),
                        xs=6,
                        md=3,
                    ),
                    dbc.Col(audit_downloads(), xs=12, md="auto", className="ms-md-auto"),
                ],
                className="g-2 mb-2 align-items-end",
            ),
            html.Div(id=ids.SETTINGS_AUDIT_FEEDBACK),
            grid(ids.SETTINGS_AUDIT_GRID, columns, height=360, fit=True),
            dbc.Button(
                "Load more",
                id=ids.SETTINGS_AUDIT_MORE,
                color="secondary",
                outline=True,
                size="sm",
                className="mt-2",
                disabled=True,
            ),
            dcc.Store(id=ids.SETTINGS_AUDIT_CURSOR),
        ],
    )
