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

NOT_FOUND_PAGE = "not-found-page"
NOT_FOUND_PATH = "not-found-path"

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
SETTINGS_AUDIT_DOWNLOADS = {fmt: f"settings-audit-download-{fmt}" for fmt in ("csv", "json")}

LOGS_PAGE = "logs-page"
LOGS_QUERY = "logs-query"
LOGS_SEARCH = "logs-search"
LOGS_SYNTAX = "logs-syntax"
LOGS_SYNTAX_HELP = "logs-syntax-help"
LOGS_LEVELS = "logs-levels"
LOGS_RANGE = "logs-range"
LOGS_FROM = "logs-from"
LOGS_TO = "logs-to"
LOGS_APPLY = "logs-apply"
LOGS_WINDOW = "logs-window"
LOGS_VIEW = "logs-view"
LOGS_ERROR = "logs-error"
LOGS_HISTOGRAM = "logs-histogram"
LOGS_HISTOGRAM_STEP = "logs-histogram-step"
LOGS_SUMMARY = "logs-summary"
LOGS_GRID = "logs-grid"
LOGS_CURSORS = "logs-cursors"
LOGS_PURGED = "logs-purged"
LOGS_DETAIL = "logs-detail"
LOGS_RECORD = "logs-record"
LOGS_TERM = "logs-term"
"""Type of the pattern-matching ids of the detail's clickable values."""
LOGS_SURROUNDING = "logs-surrounding"
LOGS_EXPORT_FORM = "logs-export-form"
LOGS_EXPORT_MENU = "logs-export-menu"
LOGS_EXPORT_Q = "logs-export-q"
LOGS_EXPORT_FROM = "logs-export-from"
LOGS_EXPORT_TO = "logs-export-to"
LOGS_EXPORT_GZIP = "logs-export-gzip"
LOGS_EXPORT_GZIP_FIELD = "logs-export-gzip-field"
LOGS_EXPORT_CSRF = "logs-export-csrf"
LOGS_LIVE = "logs-live"
LOGS_SEARCH_AREA = "logs-search-area"
LOGS_TAIL_AREA = "logs-tail-area"
LOGS_TAIL_GRID = "logs-tail-grid"
LOGS_TAIL_PAUSE = "logs-tail-pause"
LOGS_TAIL_FOLLOW = "logs-tail-follow"
LOGS_TAIL_STATUS = "logs-tail-status"
LOGS_TAIL_RATE = "logs-tail-rate"
LOGS_TAIL_DROPPED = "logs-tail-dropped"
LOGS_TAIL_CONTROL = "logs-tail-control"
LOGS_ARCHIVES = "logs-archives"
