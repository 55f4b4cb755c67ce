"""What the Sweep page reads of a finished sweep, never its whole table: the stored top
rows and heatmap; for another metric the stored table read in batches (or three columns
of a small one)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from app.operations.sweep import SweepOutcome
from app.services import sweep_heat
from core.sweep.chunked import rank_stored, stored_rows
from core.sweep.result import rank


def table_file(outcome: SweepOutcome) -> Path | None:
    """The file a sweep's full table is stored in (None for a table held in memory)."""
    return outcome.source if isinstance(outcome.source, Path) else None


def ranked(outcome: SweepOutcome, metric: str, n: int) -> pd.DataFrame:
    """The best ``n`` rows by ``metric``: the stored top rows for the sweep's own metric,
    else the stored table read in batches (its memory does not grow with the table)."""
    kept = outcome.top_table
    if metric == outcome.metric and kept is not None:
        if n <= len(kept) or len(kept) >= outcome.combinations:  # or every row is kept
            return kept.head(n)
    path = table_file(outcome)
    if path is None:
        return rank(outcome.table, metric, n)
    return rank_stored(path, metric, n)


def heatmap_of(outcome: SweepOutcome, metric: str) -> tuple[pd.DataFrame | None, str]:
    """The heatmap of ``metric`` and a note when there is none: the stored one for the
    sweep's metric; for another metric, derived from a table of at most
    :data:`app.services.sweep_heat.SMALL_TABLE_ROWS` rows (three columns read), else none."""
    if metric == outcome.metric and outcome.heatmap is not None:
        return outcome.heatmap, ""
    path = table_file(outcome)
    if path is None:
        return sweep_heat.derived_heatmap(outcome.table, outcome.request, metric), ""
    if not path.is_file():
        return None, f"the heatmap of {metric} is not stored and the table file is missing"
    rows = stored_rows(path)
    if rows > sweep_heat.SMALL_TABLE_ROWS:
        bound = sweep_heat.SMALL_TABLE_ROWS
        return None, (
            f"a heatmap of {metric} is not stored with this sweep ({rows:,} rows, more than "
            f"{bound:,} to derive it from); the stored one is of {outcome.metric}"
        )
    return sweep_heat.derived_heatmap(path, outcome.request, metric), ""


def line_of(outcome: SweepOutcome, metric: str) -> pd.DataFrame:
    """A one-parameter sweep's param and ``metric`` columns, in param order (two columns
    read from the stored table)."""
    name = outcome.param_names[0]
    path = table_file(outcome)
    frame = (
        outcome.table[[name, metric]]
        if path is None
        else pd.read_parquet(path, columns=[name, metric])
    )
    return frame.sort_values(name, kind="stable")
