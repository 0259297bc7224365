"""Component IDs, one place, prefixed by page."""

THEME_STORE = "theme-store"
THEME_SWITCH = "theme-switch"
NAV_USER = "nav-user"
NAV_LOGOUT = "nav-logout"

OVERVIEW_RANGE = "overview-range"
OVERVIEW_CARDS = "overview-cards"
OVERVIEW_REFRESH = "overview-refresh"
OVERVIEW_LIVE = "overview-live"
OVERVIEW_LIVE_STATUS = "overview-live-status"
OVERVIEW_UPDATED = "overview-updated"
OVERVIEW_ERROR = "overview-error"
OVERVIEW_CHART_CPU = "overview-chart-cpu"
OVERVIEW_CHART_MEMORY = "overview-chart-memory"
OVERVIEW_CHART_DISK = "overview-chart-disk"
OVERVIEW_CHART_NETWORK = "overview-chart-network"
OVERVIEW_CHARTS = (
    OVERVIEW_CHART_CPU,
    OVERVIEW_CHART_MEMORY,
    OVERVIEW_CHART_DISK,
    OVERVIEW_CHART_NETWORK,
)
