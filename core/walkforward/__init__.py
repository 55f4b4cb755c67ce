"""Walk-forward validation of rule strategies and ML models, with overfitting statistics.

Both entry points cut the bars into folds (:func:`fold_windows`, :mod:`.folds`): choose
or fit on the training window, then trade the following test window out of sample
(:mod:`.rule`, :mod:`.model`). The test windows are stitched into one out-of-sample
track and judged by the deflated Sharpe ratio and, across a grid, the probability of
backtest overfitting (:mod:`.result`, :mod:`.overfit`).
"""

from core.walkforward.folds import (
    CheckCancel,
    FoldWindow,
    Progress,
    WalkForwardSpec,
    fold_windows,
)
from core.walkforward.model import walk_forward_model
from core.walkforward.overfit import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    pbo_cscv,
    probabilistic_sharpe_ratio,
)
from core.walkforward.result import WalkForwardResult, effective_trials
from core.walkforward.rule import grid_returns, walk_forward_rule

__all__ = [
    "CheckCancel",
    "FoldWindow",
    "Progress",
    "WalkForwardResult",
    "WalkForwardSpec",
    "deflated_sharpe_ratio",
    "effective_trials",
    "expected_max_sharpe",
    "fold_windows",
    "grid_returns",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
    "walk_forward_model",
    "walk_forward_rule",
]
