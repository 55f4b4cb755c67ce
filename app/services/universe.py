"""Universe backtests for the pages, the CLI and jobs: one strategy on many symbols.

Every symbol goes through :func:`app.services.backtest.compute_backtest`, the path of a
single ``backtest`` run, so its row holds that run's numbers. One run (kind
``universe``, frame ``table``) keeps the table; :func:`reopen_universe` reads it back.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from app.operations import CancelToken, Progress
from app.operations.universe import COLUMNS, UniverseOutcome, UniverseRequest
from app.services import runs as run_store
from app.services.backtest import compute_backtest
from app.services.data import checked_symbols
from core.backtest.spec import EXECUTION

_HINT = "name them with --symbol"
_BENCHMARK = {"total_return": "benchmark_total_return", "sharpe": "benchmark_sharpe"}


def universe_symbols(request: UniverseRequest) -> list[str]:
    """The symbols to backtest: those asked for (each checked), else every one listed."""
    every = not request.symbols
    return checked_symbols(request.dataset, request.symbols, every=every, hint=_HINT)


def symbol_row(request: UniverseRequest, symbol: str) -> dict[str, Any]:
    """One symbol's row: its single backtest's metrics, or NaN and a note when its data
    cannot run the strategy (too few bars, a window longer than the data)."""
    row: dict[str, Any] = {c: math.nan for c in COLUMNS} | {"symbol": symbol, "note": ""}
    try:
        outcome = compute_backtest(request.backtest(symbol))
    except ValueError as exc:
        return row | {"bars": 0, "start": None, "end": None, "note": str(exc)}
    index = outcome.equity.index
    row |= {k: v for k, v in outcome.metrics.items() if k in row}
    row |= {name: outcome.benchmark_metrics.get(k, math.nan) for k, name in _BENCHMARK.items()}
    row["benchmark_max_drawdown"] = outcome.benchmark_metrics.get("max_drawdown", math.nan)
    start, end = (str(t.date()) for t in (index[0], index[-1]))
    return row | {"bars": len(index), "start": start, "end": end}


def run_universe(
    request: UniverseRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    save: bool = True,
) -> UniverseOutcome:
    """Backtest ``request.strategy`` on each symbol and save the table as one run.

    ``progress`` after each symbol; ``cancel`` is checked before each symbol (a cancelled
    run raises :class:`app.operations.Cancelled` and saves nothing).
    """
    report, check = progress or (lambda _f, _m: None), (cancel or CancelToken()).check
    symbols = universe_symbols(request)
    rows = []
    for k, symbol in enumerate(symbols, start=1):
        check()
        rows.append(symbol_row(request, symbol))
        report(0.99 * k / len(symbols), f"{symbol} done ({k}/{len(symbols)})")
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table = table.astype({c: "string" for c in ("symbol", "start", "end", "note")})
    outcome = UniverseOutcome(None, request, table.astype({"bars": "int64"}), EXECUTION)
    if not save:
        report(1.0, f"{len(symbols)} symbols backtested")
        return outcome
    run_id = run_store.save_run(
        kind="universe",
        title=f"universe {request.strategy} {request.dataset} ({len(symbols)} symbols)",
        spec=request.model_dump(mode="json"),
        metrics={**outcome.summary(), "execution": EXECUTION},
        frames={"table": outcome.table},
    )
    report(1.0, f"saved as run {run_id}")
    return UniverseOutcome(run_id, request, outcome.table, EXECUTION)


def reopen_universe(run_id: int) -> UniverseOutcome:
    """A saved universe run, rebuilt from its stored table (no recomputation)."""
    run = run_store.get_run(run_id)
    if run.kind != "universe":
        raise LookupError(f"run {run_id} is a {run.kind}, not a universe backtest")
    table = run_store.load_frame(run, "table")
    request = UniverseRequest.model_validate(run.spec)
    return UniverseOutcome(run_id, request, table, str(run.metrics.get("execution", EXECUTION)))


__all__ = ["reopen_universe", "run_universe", "symbol_row", "universe_symbols"]
