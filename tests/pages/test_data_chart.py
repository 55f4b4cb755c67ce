"""The Data page's volume bars: green on a close at or above the previous close, red below
(the first bar counts as up), as two single-colour traces (no per-bar colour array, which
made the browser log "Invalid color specifier" on every hover)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from app.components.charts import DOWN, UP
from app.services import data as data_service
from tests.pages.helpers import chart_spec, open_app, plotly_array


def test_volume_bar_colours_follow_the_close() -> None:
    at = open_app()
    _candles, up, down = chart_spec(at, 0)["data"]
    assert (up["type"], down["type"]) == ("bar", "bar")
    assert (up["marker"], down["marker"]) == ({"color": UP}, {"color": DOWN})
    prices = data_service.load_prices("ohlcv_daily", "SP500")
    close, volume = prices["close"].to_numpy(), prices["volume"].to_numpy(dtype=float)
    # independent: compare each close with the previous one in plain Python
    rising = [True] + [b >= a for a, b in pairwise(close)]
    got_up = plotly_array(up["y"]).astype(float)
    got_down = plotly_array(down["y"]).astype(float)
    assert len(got_up) == len(got_down) == len(close) == 5031
    for i, is_up in enumerate(rising):
        shown, hidden = (got_up, got_down) if is_up else (got_down, got_up)
        assert shown[i] == volume[i] and np.isnan(hidden[i])
    assert 0 < sum(rising) < len(rising)  # both colours occur
