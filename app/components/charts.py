"""Chart components: build Plotly figures from typed values, then draw them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from app.components.widgets import render_metric_cards

UP, DOWN = "#26a69a", "#ef5350"


def price_figure(frame: pd.DataFrame, *, title: str, log_scale: bool = False) -> go.Figure:
    """Candlestick with a volume panel when OHLC exists; a close line otherwise."""
    has_ohlc = {"open", "high", "low", "close"} <= set(frame.columns)
    has_volume = "volume" in frame.columns
    rows = 2 if has_volume else 1
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.75, 0.25] if has_volume else [1.0],
    )
    if has_ohlc:
        fig.add_trace(
            go.Candlestick(
                x=frame.index,
                open=frame["open"],
                high=frame["high"],
                low=frame["low"],
                close=frame["close"],
                name="OHLC",
                increasing_line_color=UP,
                decreasing_line_color=DOWN,
            ),
            row=1,
            col=1,
        )
    else:
        fig.add_trace(
            go.Scatter(x=frame.index, y=frame["close"], name="close", mode="lines"), row=1, col=1
        )
    if has_volume:
        # two single-colour traces (up and down bars): a per-bar colour list is validated
        # element by element (~0.1 s for 5,000 bars), and a numeric colour array makes the
        # unified hover log "Invalid color specifier" in the browser on every move
        up = (frame["close"].diff().fillna(0) >= 0).to_numpy()
        volume = frame["volume"].to_numpy(dtype=float)
        for name, mask, colour in (("volume up", up, UP), ("volume down", ~up, DOWN)):
            fig.add_trace(
                go.Bar(
                    x=frame.index,
                    y=np.where(mask, volume, np.nan),
                    name=name,
                    marker={"color": colour},
                ),
                row=2,
                col=1,
            )
        fig.update_yaxes(title_text="volume", row=2, col=1)
    fig.update_yaxes(title_text="price", type="log" if log_scale else "linear", row=1, col=1)
    fig.update_layout(
        title=title,
        height=560,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_rangeslider_visible=False,
        showlegend=False,
        hovermode="x unified",
    )
    return fig


def render_price_chart(frame: pd.DataFrame, *, title: str, log_scale: bool = False) -> None:
    """Draw :func:`price_figure`."""
    st.plotly_chart(price_figure(frame, title=title, log_scale=log_scale), width="stretch")


render_figures = render_metric_cards  # the research pages' name for the same cards
