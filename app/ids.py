"""Component IDs, one place, prefixed by page."""

THEME_STORE = "theme-store"
THEME_SWITCH = "theme-switch"
NAV_USER = "nav-user"
NAV_TOGGLER = "nav-toggler"
NAV_COLLAPSE = "nav-collapse"
NAV_LOGOUT = "nav-logout"

OVERVIEW_RANGE = "overview-range"
OVERVIEW_CARDS = "overview-cards"
OVERVIEW_REFRESH = "overview-refresh"
OVERVIEW_LIVE = "overview-live"
OVERVIEW_LIVE_STATUS = "overview-live-status"
OVERVIEW_UPDATED = "overview-updated"
OVERVIEW_ERROR = "overview-error"
OVERVIEW_PAGE = "overview-page"
OVERVIEW_WINDOW = "overview-window"
OVERVIEW_FROM = "overview-from"
OVERVIEW_TO = "overview-to"
OVERVIEW_APPLY = "overview-apply"
OVERVIEW_AUTO = "overview-auto-refresh"
OVERVIEW_HOST = "overview-host"
OVERVIEW_HOST_GROUP = "overview-host-group"
OVERVIEW_ROUTES = "overview-routes"
OVERVIEW_CHART_KEYS = (
    "cpu",
    "memory",
    "disk",
    "network",
    "requests",
    "latency",
    "errors",
    "pg-connections",
    "pg-transactions",
    "pg-cache",
    "pg-locks",
    "redis-memory",
    "redis-ops",
    "redis-hits",
    "redis-clients",
)
OVERVIEW_CHARTS = tuple(f"overview-chart-{key}" for key in OVERVIEW_CHART_KEYS)

SETTINGS_PAGE = "settings-page"
SETTINGS_ACCOUNT = "settings-account"
# Users (admins only)
SETTINGS_USERS_GRID = "settings-users-grid"
SETTINGS_ADD_NAME = "settings-add-name"
SETTINGS_ADD_ROLE = "settings-add-role"
SETTINGS_ADD_PASSWORD = "settings-add-password"
SETTINGS_ADD_SUBMIT = "settings-add-submit"
SETTINGS_ADD_FEEDBACK = "settings-add-feedback"
SETTINGS_SELECTED_USER = "settings-selected-user"
SETTINGS_USER_ROLE = "settings-user-role"
SETTINGS_USER_ROLE_SUBMIT = "settings-user-role-submit"
SETTINGS_USER_DISABLE = "settings-user-disable"
SETTINGS_USER_ENABLE = "settings-user-enable"
SETTINGS_USER_PASSWORD = "settings-user-password"
SETTINGS_USER_PASSWORD_SUBMIT = "settings-user-password-submit"
SETTINGS_USER_FEEDBACK = "settings-user-feedback"
# Tokens (everyone: admins for any user, analysts for themselves)
SETTINGS_TOKEN_USER = "settings-token-user"
SETTINGS_TOKEN_NAME = "settings-token-name"
SETTINGS_TOKEN_SUBMIT = "settings-token-submit"
SETTINGS_TOKEN_ONCE = "settings-token-once"
SETTINGS_TOKEN_VALUE = "settings-token-value"
SETTINGS_TOKEN_DONE = "settings-token-done"
SETTINGS_TOKENS_GRID = "settings-tokens-grid"
SETTINGS_TOKEN_REVOKE = "settings-token-revoke"
SETTINGS_TOKEN_FEEDBACK = "settings-token-feedback"
# Own password (everyone)
SETTINGS_PASSWORD_CURRENT = "settings-password-current"
SETTINGS_PASSWORD_NEW = "settings-password-new"
SETTINGS_PASSWORD_REPEAT = "settings-password-repeat"
SETTINGS_PASSWORD_SUBMIT = "settings-password-submit"
SETTINGS_PASSWORD_FEEDBACK = "settings-password-feedback"
# Audit (admins only)
SETTINGS_AUDIT_GRID = "settings-audit-grid"
SETTINGS_AUDIT_ACTOR = "settings-audit-actor"
SETTINGS_AUDIT_ACTION = "settings-audit-action"
SETTINGS_AUDIT_MORE = "settings-audit-more"
SETTINGS_AUDIT_CURSOR = "settings-audit-cursor"
SETTINGS_AUDIT_FEEDBACK = "settings-audit-feedback"
