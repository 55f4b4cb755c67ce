"""The Data page's volume bars: green on a close at or above the previous close, red below,
as one numeric array on a two-colour scale (the first bar counts as up)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from app.components.charts import DOWN, UP
from app.services import data as data_service
from tests.pages.helpers import chart_spec, open_app, plotly_array


def test_volume_bar_colours_follow_the_close() -> None:
    at = open_app()
    bar = chart_spec(at, 0)["data"][1]
    assert bar["type"] == "bar"
    marker = bar["marker"]
    assert (marker["cmin"], marker["cmax"]) == (0, 1)
    assert [stop[1] for stop in marker["colorscale"]] == [DOWN, UP]
    close = data_service.load_prices("ohlcv_daily", "SP500")["close"].to_numpy()
    # independent: compare each close with the previous one in plain Python
    want = [1.0] + [1.0 if b >= a else 0.0 for a, b in pairwise(close)]
    got = plotly_array(marker["color"])
    assert len(got) == len(close) == 5031
    np.testing.assert_array_equal(got, np.array(want))
    assert 0 < got.sum() < len(got)  # both colours occur
