"""The page registry: which pages the router shows, in which section, at which URL path.

Data, not code: :mod:`app.main` builds the navigation from it, and :mod:`app.warm_start`
and the app bench read it without importing the router.
"""

from __future__ import annotations

#: (section, file, title, icon, url path) per page, in navigation order.
PAGES: list[tuple[str, str, str, str, str]] = [
    ("Research", "data.py", "Data", ":material/database:", "data"),
    ("Research", "backtest.py", "Backtest", ":material/query_stats:", "backtest"),
    ("Research", "sweep.py", "Sweep", ":material/grid_on:", "sweep"),
    ("Research", "regime.py", "Regimes", ":material/stacked_line_chart:", "regime"),
    ("Models", "training.py", "Training", ":material/model_training:", "training"),
    ("Models", "registry.py", "Model registry", ":material/inventory_2:", "registry"),
    ("Models", "walkforward.py", "Walk-forward", ":material/timeline:", "walkforward"),
    ("Compare", "abtest.py", "A/B compare", ":material/compare_arrows:", "abtest"),
    ("Compare", "ensemble.py", "Ensemble", ":material/hub:", "ensemble"),
    ("Trading", "paper.py", "Paper trading", ":material/monitoring:", "paper"),
    ("Trading", "risk.py", "Risk", ":material/shield:", "risk"),
    ("Trading", "alerts.py", "Alerts", ":material/notifications:", "alerts"),
    ("System", "jobs.py", "Jobs", ":material/work_history:", "jobs"),
]
#: Pages whose actions run vectorbt backtests: without the server's warm-up (AppTest),
#: visiting one starts the engine warm-up.
WARM_ENGINE_FOR = frozenset({"backtest", "abtest"})

__all__ = ["PAGES", "WARM_ENGINE_FOR"]
