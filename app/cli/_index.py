# ruff: noqa: E501
"""The root commands of ``workbench``: name -> (feature module, help text).

Generated from the feature modules by :func:`app.cli.write_index`; do not edit.
Regenerate with ``python -c "import app.cli; app.cli.write_index()"``
(tests/app/test_cli_imports.py checks that it is current).
"""

COMMANDS: dict[str, tuple[str, str]] = {
    "backtest": (
        "backtest",
        "Backtest one strategy; prints the metrics and the execution convention.",
    ),
    "portfolio": (
        "backtest",
        "Multi-asset backtest with shared cash, target weights and rebalancing.",
    ),
    "universe": (
        "universe",
        "Backtest one strategy on every symbol of a dataset (or the symbols given); one row per symbol, saved as a run.",
    ),
    "sweep": (
        "sweep",
        "Vectorized parameter sweep; prints combinations, seconds and the best row.",
    ),
    "train": (
        "training",
        "Train a classifier, evaluate it out of sample and backtest its signal. The look-ahead check runs on the features first (a leaky one is refused, exit 2, unless --allow-lookahead); implausible results are flagged in warnings.",
    ),
    "lookahead-check": (
        "training",
        "Flag any bar whose value changes when later bars are added. Exit 1 if leaky.",
    ),
    "predict": (
        "predict",
        "Batch prediction: a registered model's up-probability per symbol per bar (features up to each bar only), saved as a run; --out writes CSV or Parquet.",
    ),
    "predict-one": (
        "predict",
        "One symbol's up-probability at its latest bar (or the last on or before --as-of, from bars up to it only), from a registered model; stores nothing.",
    ),
    "predict-batch": (
        "predict",
        "Many symbols' up-probabilities at one bar each (as predict-one), up to 500 symbols; stores nothing.",
    ),
    "walkforward": (
        "walkforward",
        "Walk-forward validation with deflated Sharpe and PBO. Model walk-forwards first run the look-ahead check on their features and refuse a leaky one (exit 2) unless --allow-lookahead. Implausible out-of-sample results (AUC >= 0.9, Sharpe >= 4) are flagged in warnings.",
    ),
    "abtest": (
        "abtest",
        "Statistical A/B comparison of strategies or saved runs on the same data. One primary test decides (HAC paired t-test of daily returns, adjusted across pairs); the other tests are shown as secondary.",
    ),
    "runs": ("runs", "List saved runs, newest first."),
    "whoami": ("auth", "Who the CLI acts as, and in which mode (local or signed in)."),
    "hash-password": (
        "auth",
        "Print a password hash for a user's password_hash in .streamlit/secrets.toml.",
    ),
    "api": (
        "api",
        "Serve the REST API (OpenAPI at /openapi.json, docs at /docs); make tokens with ``workbench tokens create``.",
    ),
    "bench": ("system", "Benchmarks: medians and percentiles, throughput; never timed unit tests."),
    "setup": ("system", "Verify embedded data, migrate the database and warm numba (idempotent)."),
    "report": (
        "backtest",
        "Write a quantstats HTML tear sheet (benchmark: buy-and-hold of the same symbol).",
    ),
    "data": ("data", "List, validate and import datasets."),
    "regime": ("regime", "Fit and evaluate probabilistic regimes."),
    "registry": (
        "registry",
        "Model registry: list, register, promote, roll back, retention, live tests.",
    ),
    "ensemble": ("ensemble", "Strategy ensemble with a bandit meta-selector."),
    "retrain": ("retrain", "Performance-triggered retraining."),
    "paper": ("paper", "Supervised paper trading."),
    "risk": ("risk", "Pre-trade checks and risk limits."),
    "alerts": ("alerts", "Alert channels, rules, tests and history."),
    "jobs": ("jobs", "Background jobs: list, show, cancel, wait, retry; the worker."),
    "token": ("auth", "Personal access tokens for the CLI when sign-in users are configured."),
    "tokens": ("auth", "API tokens: make one for a user with its roles (and rate), list, revoke."),
}
