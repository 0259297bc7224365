"""Shared pieces for dash-ag-grid tables."""

from __future__ import annotations

import dash_ag_grid as dag

AG_THEME_MODE = "function (theme) { return theme === 'dark' ? 'dark' : 'light'; }"
"""Clientside function: the grids' colour mode (``data-ag-theme-mode``) from the theme."""
SINGLE_ROW = {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
"""Row selection by a click on the row, one at a time, without checkboxes."""
ROW_ID = "params.data.id + ''"
"""Rows keyed by their ``id``, as a string (AG Grid warns of others: warning #25)."""


def grid(
    grid_id: str,
    columns: list[dict],
    *,
    height: int,
    selectable: bool = False,
    row_id: str | None = ROW_ID,
    fit: bool = False,
) -> dag.AgGrid:
    """A read-only grid; ``selectable`` lets a click select one row; ``row_id`` keys the
    rows (so a selection survives a refresh), None for rows without a key.

    Columns share the width by ``flex`` down to their ``minWidth`` (then the grid scrolls
    sideways): sizing to fit would be asked of grids in hidden tabs, which have no width.
    ``fit`` sizes them to the grid instead, for grids always shown.
    """
    options: dict = {
        "suppressCellFocus": not selectable,
        "enableCellTextSelection": True,
        "animateRows": False,
        "tooltipShowDelay": 300,
    }
    if selectable:
        options["rowSelection"] = SINGLE_ROW
    sizing = {"columnSize": "responsiveSizeToFit"} if fit else {}
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        rowData=[],
        **({"getRowId": row_id} if row_id else {}),
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 90}
        | ({} if fit else {"flex": 1}),
        **sizing,
        dashGridOptions=options,
        style={"height": f"{height}px"},
    )
