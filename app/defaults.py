"""The app's default selection: what the pages show before the user picks anything.

UI-free, so that services read the same values as :mod:`app.state` (``workbench setup``
precomputes the Regimes page's default view, see
:func:`app.services.regime_view.store_default_view`).
"""

from __future__ import annotations

DATASET = "ohlcv_daily"
SYMBOL = "SP500"
REGIME_METHOD = "hmm"
