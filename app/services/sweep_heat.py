"""A sweep's heatmap as stored with its run (a long Parquet frame) and as drawn (wide),
and the heatmap derived from a stored table (old runs, another metric)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from app.operations.sweep import SweepRequest
from core.sweep.chunked import SYMBOL, pivot_stored, stored_rows

SMALL_TABLE_ROWS = 200_000
"""Largest stored table a heatmap is derived from (old runs, another metric)."""
HEATMAP = "heatmap"
"""The heatmap's frame name in a sweep's run folder."""


def run_heatmap(folder: Path, request: SweepRequest) -> pd.DataFrame | None:
    """The heatmap stored in a run's folder; an old run without one gets it derived once
    from a table of at most :data:`SMALL_TABLE_ROWS` rows, stored beside it."""
    stored = folder / f"{HEATMAP}.parquet"
    if stored.is_file():
        return read_heat(stored)
    table = folder / "table.parquet"
    if not table.is_file() or stored_rows(table) > SMALL_TABLE_ROWS:
        return None
    heat = derived_heatmap(table, request, request.metric)
    long = heat_long(heat)
    if long is not None:
        store_frame(folder, HEATMAP, long)
    return heat


def derived_heatmap(
    source: pd.DataFrame | Path, request: SweepRequest, metric: str
) -> pd.DataFrame | None:
    """The max of ``metric`` over the first two swept params (a universe: symbol x first
    param) of a table or a stored table (three columns read); None for one swept param
    of one symbol."""
    names = list(request.grid)
    if request.all_symbols:
        row, col = SYMBOL, names[0]
    elif len(names) >= 2:
        row, col = names[0], names[1]
    else:
        return None
    if isinstance(source, Path):
        return pivot_stored(source, row, col, metric)
    return source.pivot_table(index=row, columns=col, values=metric, aggfunc="max")


def heat_long(heatmap: pd.DataFrame | None) -> pd.DataFrame | None:
    """The heatmap as a long frame (Parquet needs string column names)."""
    if heatmap is None:
        return None
    index, columns = heatmap.index.name, heatmap.columns.name
    long = heatmap.stack(future_stack=True).rename("value").reset_index()
    return long.rename(columns={index: "row", columns: "column"}).assign(
        row_name=index, column_name=columns
    )


def heat_wide(long: pd.DataFrame, names: tuple[str, str] | None = None) -> pd.DataFrame:
    """:func:`heat_long` undone (rows and columns in their stored order), filled by
    position: a million-cell heatmap costs its cells, not a pivot's hash tables.
    ``names`` (row, column) when ``long`` was read without its name columns."""
    rows, row_values = pd.factorize(long["row"], sort=False)
    cols, col_values = pd.factorize(long["column"], sort=False)
    cells = np.full((len(row_values), len(col_values)), np.nan)
    cells[rows, cols] = long["value"].to_numpy(dtype=np.float64)
    row_name, col_name = names or (long["row_name"].iloc[0], long["column_name"].iloc[0])
    return pd.DataFrame(
        cells,
        index=pd.Index(row_values, name=row_name),
        columns=pd.Index(col_values, name=col_name),
    )


def read_heat(path: Path) -> pd.DataFrame | None:
    """A stored :func:`heat_long` file as the heatmap (its repeated name columns read
    from the first row only); None when it holds no cell."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    with pq.ParquetFile(path) as stored:
        if stored.metadata.num_rows == 0:
            return None
        first = next(stored.iter_batches(batch_size=1, columns=["row_name", "column_name"]))
    names = first.to_pylist()[0]
    long = pd.read_parquet(path, columns=["row", "column", "value"])
    return heat_wide(long, (names["row_name"], names["column_name"]))


def store_frame(folder: Path, name: str, frame: pd.DataFrame) -> bool:
    """Write ``frame`` as ``name.parquet`` in a run's folder atomically; False (nothing
    written) when the folder is read-only."""
    target = folder / f"{name}.parquet"
    partial = folder / f".{name}.parquet.partial"
    try:
        frame.to_parquet(partial)
        partial.replace(target)
    except OSError:
        partial.unlink(missing_ok=True)
        return False
    return True
