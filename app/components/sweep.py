"""Sweep components: the grid form and the result view (heatmap, ranked table, download)."""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components.backtest import fmt
from app.components.charts import render_figures
from app.components.numbers import integer, number
from app.components.tables import column_formats
from app.operations.sweep import SweepOutcome
from app.services import sweep_heat, sweep_view
from core.sweep.result import LOWER_IS_BETTER


def fixed_choice_inputs(model: type[Any], *, key: str) -> dict[str, Any]:
    """A select box per choice parameter of the strategy (e.g. ma_crossover's entry rule,
    "state" or "cross"), held fixed over the grid; returns the sweep's ``fixed`` values."""
    fixed: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if typing.get_origin(field.annotation) is not typing.Literal:
            continue
        choices = list(typing.get_args(field.annotation))
        fixed[name] = st.selectbox(
            name.replace("_", " "),
            choices,
            index=choices.index(field.default),
            key=f"{key}.{name}",
            help=field.description,
        )
    return fixed


HEATMAP_MAX_CELLS = 250_000
"""Most cells a drawn heatmap has; a larger one is drawn in blocks (see :func:`coarsened`)."""


def coarsened(
    grid: pd.DataFrame, *, universe: bool, lower: bool = False, max_cells: int = HEATMAP_MAX_CELLS
) -> tuple[pd.DataFrame, int, int]:
    """``grid`` in blocks of ``rows x cols`` neighbouring values, each the best of its
    block (max; min for a universe's lower-is-better metric, as the stored heatmap),
    labelled by the block's first values, so at most ``max_cells`` cells are drawn (a
    universe keeps one row per symbol). Returns the grid and the two block sizes."""
    n_rows, n_cols = grid.shape
    if n_rows * n_cols <= max_cells:
        return grid, 1, 1
    if universe:
        rows, cols = 1, -(-n_rows * n_cols // max_cells)
    else:
        rows = cols = int(np.ceil(np.sqrt(n_rows * n_cols / max_cells)))
    out_rows, out_cols = -(-n_rows // rows), -(-n_cols // cols)
    cells = np.full((out_rows * rows, out_cols * cols), np.nan)
    cells[:n_rows, :n_cols] = grid.to_numpy(dtype=np.float64)
    pick = np.fmin if lower and universe else np.fmax  # NaN-skipping, no warnings
    blocks = cells.reshape(out_rows, rows, out_cols, cols)
    best = pick.reduce(pick.reduce(blocks, axis=3), axis=1)
    frame = pd.DataFrame(
        best,
        index=pd.Index(grid.index[::rows], name=grid.index.name),
        columns=pd.Index(grid.columns[::cols], name=grid.columns.name),
    )
    return frame, rows, cols


def heatmap_figure(outcome: SweepOutcome, grid: pd.DataFrame, metric: str) -> go.Figure:
    """Heatmap of ``grid`` (the max of ``metric`` over the first two swept params; a
    universe sweep: symbol x first param)."""
    universe = outcome.universe is not None
    row, col = str(grid.index.name), str(grid.columns.name)
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=grid.columns.astype(str),
            y=grid.index.astype(str),
            colorscale="RdYlGn",
            colorbar={"title": metric},
            hoverongaps=False,
        )
    )
    fig.update_layout(
        height=max(320, min(720, 60 + 26 * len(grid))) if universe else 520,
        xaxis_title=col,
        yaxis={"title": row, "autorange": "reversed" if universe else True},  # symbols: top down
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig


#: Columns of the symbol x metric heatmap of a universe sweep's best rows.
UNIVERSE_METRICS = ("sharpe", "sortino", "total_return", "cagr", "max_drawdown", "calmar")


def symbol_metric_figure(best: pd.DataFrame) -> go.Figure:
    """Each symbol's best combination (rows) by metric (columns): colour is the metric's
    rank across symbols (green best; drawdowns rank by closeness to zero), text the value."""
    metrics = [m for m in UNIVERSE_METRICS if m in best]
    values = best[metrics].astype(float)
    colour = values.rank(pct=True)  # higher is better for each of these (drawdown < 0)
    fig = go.Figure(
        go.Heatmap(
            z=colour.to_numpy(),
            x=metrics,
            y=best["symbol"].astype(str),
            text=[
                [fmt(m, v) for m, v in zip(metrics, row, strict=True)] for row in values.to_numpy()
            ],
            texttemplate="%{text}",
            colorscale="RdYlGn",
            showscale=False,
            hovertemplate="%{y} %{x}: %{text}<extra></extra>",
        )
    )
    fig.update_layout(
        height=max(260, min(720, 60 + 30 * len(best))),
        yaxis={"autorange": "reversed"},  # the table's order, top down
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return fig


def render_universe(outcome: SweepOutcome) -> None:
    """A universe sweep's best combination per symbol and the deflated Sharpe over all trials."""
    universe = outcome.universe
    if universe is None:
        return
    dsr = universe.dsr
    st.markdown(
        f"**Best combination per symbol** ({len(universe.symbols)} symbols). Deflated Sharpe "
        f"of the overall best: {number(dsr.get('dsr'), 3)} over "
        f"{integer(dsr.get('trials', 0))} trials (combinations x symbols)."
    )
    best = universe.best_by_symbol
    st.plotly_chart(
        symbol_metric_figure(best), width="stretch", key=f"sweep.{outcome.run_id}.symbols"
    )
    st.dataframe(
        best,
        width="stretch",
        hide_index=True,
        key=f"sweep.{outcome.run_id}.best",
        column_config=column_formats(best),
    )
    if universe.skipped:
        st.warning("Skipped: " + "; ".join(f"{s}: {why}" for s, why in universe.skipped.items()))


def render_sweep(outcome: SweepOutcome, metric: str, *, top_n: int = 15) -> None:
    """Headline, heatmap (or line for one param), a universe's best per symbol, top-N and
    the full table's download. Nothing here reads the full table: the heatmap and the
    top rows are the ones stored with the run (another metric reads the table in
    batches, or three columns of a small one), the download streams the stored file."""
    path = sweep_view.table_file(outcome)
    if metric != outcome.metric and path is not None and not path.is_file():
        st.warning(
            f"Ranked by {outcome.metric} (the sweep's metric), not {metric}: the full table "
            "is missing, only the stored top rows and heatmap are left."
        )
        metric = outcome.metric
    top = sweep_view.ranked(outcome, metric, top_n)
    render_figures(
        [
            ("Combinations", integer(outcome.combinations)),
            ("Seconds", number(outcome.seconds, 3)),
            ("Combos / s", integer(outcome.combinations / max(outcome.seconds, 1e-9))),
            (f"Best {metric}", fmt(metric, float(top[metric].iloc[0]))),
        ]
    )
    one_param = outcome.universe is None and len(outcome.param_names) < 2
    fig: go.Figure | None = None
    if one_param and (path is None or path.is_file()):
        line = sweep_view.line_of(outcome, metric)
        name = outcome.param_names[0]
        fig = go.Figure(go.Scatter(x=line[name], y=line[metric], mode="lines+markers"))
        fig.update_layout(height=400, xaxis_title=name, yaxis_title=metric)
    elif not one_param:
        grid, note = sweep_view.heatmap_of(outcome, metric)
        if grid is not None:
            universe = outcome.universe is not None
            lower = metric in LOWER_IS_BETTER and metric == outcome.metric  # as stored
            drawn, rows, cols = coarsened(grid, universe=universe, lower=lower)
            fig = heatmap_figure(outcome, drawn, metric)
            if (rows, cols) != (1, 1):
                st.caption(
                    f"{grid.shape[0]:,} x {grid.shape[1]:,} cells drawn as {drawn.shape[0]:,} "
                    f"x {drawn.shape[1]:,}: each the best over {rows} x {cols} neighbouring "
                    "values, labelled by the first."
                )
        else:
            st.info(f"No heatmap: {note}.")
    if fig is not None:
        st.plotly_chart(fig, width="stretch", key=f"sweep.{outcome.run_id}.{metric}")
    render_universe(outcome)
    st.markdown(f"**Top {top_n} by {metric}**")
    st.dataframe(top, width="stretch", hide_index=True, column_config=column_formats(top))
    render_table_download(outcome)
    st.caption(f"Execution: {outcome.execution}.")


DOWNLOAD_MAX_BYTES = 200 * 2**20
"""Largest stored table the page offers as a download (its bytes are read on click)."""


def _size_text(size: int) -> str:
    """``"24.3 MB"``, ``"18 KB"``."""
    return f"{size / 2**20:,.1f} MB" if size >= 2**20 else f"{max(1, round(size / 2**10))} KB"


def render_table_download(outcome: SweepOutcome) -> None:
    """The full table as a download of its stored Parquet file (read only when clicked,
    up to :data:`DOWNLOAD_MAX_BYTES`) and as CSV for a small table; a larger file is
    named by its path, a missing one said to be missing."""
    path = sweep_view.table_file(outcome)
    key = f"sweep.{outcome.run_id}.download"
    name = f"sweep-{outcome.run_id}" if outcome.run_id is not None else "sweep"
    if path is None:  # an unsaved sweep's table, already in memory
        st.download_button(
            "Download the table (CSV)",
            data=lambda: outcome.table.to_csv(index=False),
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"{key}.csv",
            on_click="ignore",
        )
        return
    if not path.is_file():
        st.warning(
            f"The full table ({outcome.combinations:,} rows) cannot be downloaded: its file "
            f"{path} is missing. The heatmap and top rows above are stored with the run."
        )
        return
    size = path.stat().st_size
    if size > DOWNLOAD_MAX_BYTES:
        st.caption(
            f"The full table ({outcome.combinations:,} rows, {size / 2**20:,.0f} MB of "
            f"Parquet) is too large to download through the page; it is stored at {path} "
            "(read it with pandas.read_parquet or pyarrow)."
        )
        return
    st.download_button(
        f"Download the table (Parquet, {_size_text(size)})",
        data=path.read_bytes,  # deferred: read when clicked, not on every rerun
        file_name=f"{name}.parquet",
        mime="application/vnd.apache.parquet",
        key=f"{key}.parquet",
        on_click="ignore",
    )
    if outcome.combinations <= sweep_heat.SMALL_TABLE_ROWS:
        st.download_button(
            "Download the table (CSV)",
            data=lambda: pd.read_parquet(path).to_csv(index=False),  # on click only
            file_name=f"{name}.csv",
            mime="text/csv",
            key=f"{key}.csv",
            on_click="ignore",
        )
