"""``workbench bench --peers``: the reference sweep in vectorbt and backtesting.py, side by side.

The same workload as :func:`core.bench.bench_research` (S&P 500 daily, 5,031 bars; fast
5..103 step 2 x slow 20..412 step 8 with fast < slow, 2,258 combinations; the default
:class:`~core.backtest.spec.BacktestSpec` costs) is run in one sitting by

- the workbench: :func:`core.sweep.sweep_ma_crossover` (all 11 metrics per combination);
- vectorbt: ``vbt.MA.run_combs`` over the union of the windows (each SMA once), crossover
  signals, one broadcast ``Portfolio.from_signals``, total return and Sharpe per column;
  cold (a new process: import, first run) and warm (in-process repeats);
- backtesting.py: ``Backtest.optimize`` (its exhaustive grid search over a process pool,
  one process per core) of the canonical ``SmaCross`` strategy; it costs about 0.1 s per
  combination, so it runs on every ``stride``-th combination of the grid (226 of 2,258 by
  default) and its combinations per second are extrapolated to the full grid.

Every peer fills at the next bar's open with the same fees (a fraction of value per fill)
and slippage (the fill price moved against the order; backtesting.py charges its
``spread`` on entry only, so it gets twice the slippage there).
The peers enter on a real cross (fast crosses above slow) and leave on the cross back;
the workbench's default (``entry="state"``) holds whenever fast > slow, which differs on one
point only: a sweep that starts with fast already above slow is long from the first bar
where both averages exist. The agreement check therefore also runs the workbench sweep
with ``entry="cross"``, the peers' rule.

The peer packages are optional (the ``peers`` extra of ``pyproject.toml``);
:func:`ensure_peers` installs the missing ones into the running environment on demand.
Nothing here runs in ``make test``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import itertools
import os
import platform
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.benchkit import (
    FAST,
    SLOW,
    grid_pairs,
    percentiles,
    reference_prices,
    run_python_json,
    timed,
)

PEER_REQUIREMENTS: dict[str, str] = {
    "vectorbt": "vectorbt>=0.28",
    "backtesting": "backtesting==0.6.6",
}
"""Importable module -> pip requirement of each peer (``backtesting`` is the ``peers`` extra;
vectorbt is a dependency of the workbench itself)."""

BACKTESTING_STRIDE = 10
"""backtesting.py runs every 10th combination of the grid (226 of 2,258) by default."""


class PeerUnavailable(LookupError):
    """A peer package is missing and could not (or may not) be installed."""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def default_installer() -> list[str]:
    """The command prefix that installs into the running interpreter's environment.

    ``uv pip install --python <this python>`` when uv sits beside the interpreter (as
    ``make install`` puts it) or on PATH, else ``<this python> -m pip install``.
    """
    beside = Path(sys.executable).with_name("uv")
    uv = str(beside) if beside.is_file() else shutil.which("uv")
    if uv:
        return [uv, "pip", "install", "--python", sys.executable]
    return [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]


def missing_peers(requirements: Mapping[str, str] = PEER_REQUIREMENTS) -> list[str]:
    """Requirements whose module cannot be imported in this environment."""
    return [req for module, req in requirements.items() if importlib.util.find_spec(module) is None]


def ensure_peers(
    requirements: Mapping[str, str] = PEER_REQUIREMENTS,
    *,
    install: bool = True,
    installer: Sequence[str] | None = None,
    log: Callable[[str], None] = _log,
    timeout: float = 600.0,
) -> dict[str, str]:
    """Make every peer module importable, installing the missing ones on demand.

    Parameters
    ----------
    requirements : mapping of module name to pip requirement
        What to check, e.g. ``{"backtesting": "backtesting==0.6.6"}``.
    install : bool
        Install missing requirements with ``installer``; when False a missing module
        raises :class:`PeerUnavailable` with the command to run by hand.
    installer : list of str, optional
        Command prefix the requirements are appended to (default :func:`default_installer`).
    log : callable
        Receives one line before an install starts (default: standard error).

    Returns
    -------
    dict
        Module name -> installed distribution version.

    Raises
    ------
    PeerUnavailable
        A module is missing and ``install`` is False, the installer failed (offline, no
        such version, ...), or the module is still not importable afterwards.
    """
    missing = missing_peers(requirements)
    if missing:
        command = [*(installer or default_installer()), *missing]
        by_hand = f"pip install 'trading-workbench[peers]' (or: {' '.join(missing)})"
        if not install:
            raise PeerUnavailable(
                f"peer packages not installed: {', '.join(missing)}; install them with {by_hand}"
            )
        log(
            f"workbench bench --peers: installing the optional peer packages {', '.join(missing)} "
            f"into {sys.prefix} ({command[0]})"
        )
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerUnavailable(
                f"could not install {', '.join(missing)}: {exc}; install them with {by_hand}"
            ) from exc
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise PeerUnavailable(
                f"could not install {', '.join(missing)} (is the machine offline?): "
                f"{' / '.join(detail) or f'exit code {proc.returncode}'}; "
                f"install them with {by_hand}"
            )
        importlib.invalidate_caches()
        still = missing_peers(requirements)
        if still:
            raise PeerUnavailable(f"{', '.join(still)} still not importable after installing")
    return {module: _version(module) for module in requirements}


def _version(module: str) -> str:
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return str(getattr(importlib.import_module(module), "__version__", "unknown"))


def machine() -> dict[str, Any]:
    """CPU model, logical cores, memory and load averages (1, 5, 15 min) of this machine."""
    cpu, mem_gb = platform.processor() or platform.machine(), None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "load_average": load}


def grid() -> tuple[np.ndarray, np.ndarray]:
    """The reference (fast, slow) pairs with fast < slow (2,258), fast-major."""
    return grid_pairs(FAST, SLOW)


# --- vectorbt -------------------------------------------------------------------------------


def vectorbt_sweep(
    prices: pd.DataFrame, fast: np.ndarray, slow: np.ndarray, spec: Any
) -> pd.DataFrame:
    """The grid in vectorbt: ``MA.run_combs`` + crossover signals + ``from_signals``.

    A cross observed at bar t's close is filled at bar t + 1's open (signals shifted one
    bar, ``price=open``). Returns one row per (fast, slow) with ``total_return`` and
    ``sharpe`` (vectorbt annualizes with 365 days for ``freq="1D"``; rankings do not change).
    """
    import vectorbt as vbt

    wanted = set(zip(fast.tolist(), slow.tolist(), strict=True))

    def grid_pairs(params: Any, r: int) -> list[tuple[Any, ...]]:
        # run_combs' comb_func: the (fast, slow) pairs of the grid among all window pairs
        return [p for p in itertools.combinations(params, r) if (p[0][0], p[1][0]) in wanted]

    windows = np.union1d(fast, slow).tolist()
    fast_ma, slow_ma = vbt.MA.run_combs(
        prices["close"], window=windows, r=2, short_names=["fast", "slow"], comb_func=grid_pairs
    )
    entries = fast_ma.ma_crossed_above(slow_ma).shift(1, fill_value=False)
    exits = fast_ma.ma_crossed_below(slow_ma).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(
        prices["close"],
        entries,
        exits,
        price=prices["open"],
        fees=spec.fees,
        slippage=spec.slippage,
        init_cash=spec.init_cash,
        freq=spec.freq,
    )
    total, sharpe = pf.total_return(), pf.sharpe_ratio()
    return pd.DataFrame(
        {
            "fast": total.index.get_level_values(0).astype(np.int64),
            "slow": total.index.get_level_values(1).astype(np.int64),
            "total_return": total.to_numpy(),
            "sharpe": sharpe.to_numpy(),
        }
    )


_VECTORBT_COLD = """
import json, time
t0 = time.perf_counter()
import vectorbt
from core.backtest.spec import BacktestSpec
from core.bench_peers import grid, reference_prices, vectorbt_sweep
prices, (fast, slow) = reference_prices(), grid()
t1 = time.perf_counter()
table = vectorbt_sweep(prices, fast, slow, BacktestSpec())
t2 = time.perf_counter()
print(json.dumps({"import_and_load_s": t1 - t0, "first_sweep_s": t2 - t1, "total_s": t2 - t0,
                  "combinations": len(table)}))
"""

_WORKBENCH_COLD = """
import json, time
t0 = time.perf_counter()
from core.bench_peers import grid, reference_prices
from core.sweep import sweep_ma_crossover
prices, (fast, slow) = reference_prices(), grid()
t1 = time.perf_counter()
res = sweep_ma_crossover(prices, fast, slow)
t2 = time.perf_counter()
print(json.dumps({"import_and_load_s": t1 - t0, "first_sweep_s": t2 - t1, "total_s": t2 - t0,
                  "combinations": res.combinations}))
"""


# --- backtesting.py -------------------------------------------------------------------------


def _sma(values: np.ndarray, window: int) -> np.ndarray:
    return np.asarray(pd.Series(values).rolling(window).mean(), dtype=np.float64)


@functools.cache
def _sma_cross() -> type:
    """backtesting.py's canonical ``SmaCross``: buy on a cross above, close on the cross back."""
    from backtesting import Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):  # type: ignore[misc]
        fast = 10
        slow = 50

        def init(self) -> None:
            self.fast_ma = self.I(_sma, self.data.Close, self.fast)
            self.slow_ma = self.I(_sma, self.data.Close, self.slow)

        def next(self) -> None:
            if crossover(self.fast_ma, self.slow_ma):
                self.buy()
            elif crossover(self.slow_ma, self.fast_ma):
                self.position.close()

    SmaCross.__module__, SmaCross.__qualname__ = __name__, "SmaCross"
    return SmaCross


def __getattr__(name: str) -> Any:
    # ``core.bench_peers.SmaCross`` resolves lazily (backtesting.py is optional), so that
    # Backtest.optimize can pickle the strategy class to its worker processes.
    if name == "SmaCross":
        return _sma_cross()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextmanager
def _quiet_backtesting() -> Any:
    """No tqdm bars or 'Searching for best of N configurations' warnings from backtesting.py."""
    import backtesting.backtesting as bt_module

    saved = getattr(bt_module, "_tqdm", None)
    bt_module._tqdm = lambda seq, **_: seq
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        bt_module._tqdm = saved


def backtesting_sweep(
    prices: pd.DataFrame, fast: np.ndarray, slow: np.ndarray, spec: Any
) -> pd.DataFrame:
    """The (fast, slow) pairs given, through ``Backtest.optimize`` of backtesting.py.

    ``FractionalBacktest`` (units of 1e-6 share) so that an all-in buy is not rounded to
    whole shares of an index near 5,000; ``commission=fees`` on both fills. backtesting.py
    applies its ``spread`` once, on the entry price only, so ``spread=2 * slippage`` charges
    the round trip's slippage (final equity then agrees to O(slippage**2) per round trip).
    Returns one row per pair with ``total_return`` (NaN where backtesting.py reports no
    trade).
    """
    from backtesting.lib import FractionalBacktest

    frame = prices.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    allowed = set(zip(fast.tolist(), slow.tolist(), strict=True))
    with _quiet_backtesting():
        bt = FractionalBacktest(
            frame,
            _sma_cross(),
            cash=spec.init_cash,
            commission=spec.fees,
            spread=2 * spec.slippage,
            fractional_unit=1e-6,
        )
        _, heatmap = bt.optimize(
            fast=sorted(set(fast.tolist())),
            slow=sorted(set(slow.tolist())),
            constraint=lambda p: (p.fast, p.slow) in allowed,
            maximize="Return [%]",
            return_heatmap=True,
        )
    return pd.DataFrame(
        {
            "fast": heatmap.index.get_level_values("fast").astype(np.int64),
            "slow": heatmap.index.get_level_values("slow").astype(np.int64),
            "total_return": heatmap.to_numpy(dtype=np.float64) / 100.0,
        }
    )


# --- the workbench under both entry rules ---------------------------------------------------


def cross_positions(close: np.ndarray, fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """(T, N) long/flat targets under the peers' rule: enter on a real cross above.

    Long while SMA(fast) > SMA(slow), except the first run when it is already under way at
    the first bar where both averages exist (no cross was seen).

    >>> close = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0])
    >>> cross_positions(close, np.array([1]), np.array([2]))[:, 0]
    array([0., 0., 0., 0., 0., 1., 1.])
    """
    series = pd.Series(np.asarray(close, dtype=np.float64))
    means = {int(w): series.rolling(int(w)).mean().to_numpy() for w in np.union1d(fast, slow)}
    out = np.zeros((len(series), len(fast)))
    for j, (f, s) in enumerate(zip(fast.tolist(), slow.tolist(), strict=True)):
        with np.errstate(invalid="ignore"):
            long = means[f] > means[s]
        first = max(f, s) - 1
        if first < len(long) and long[first]:
            off = np.flatnonzero(~long[first:])
            long[first : first + (off[0] if off.size else len(long))] = False
        out[:, j] = long
    return out


def workbench_cross_table(
    prices: pd.DataFrame, fast: np.ndarray, slow: np.ndarray, spec: Any
) -> pd.DataFrame:
    """Workbench total return and Sharpe per pair under the peers' rule (``entry="cross"``)."""
    from core.sweep import sweep_ma_crossover

    res = sweep_ma_crossover(prices, fast, slow, spec, entry="cross")
    return res.table[["fast", "slow", "total_return", "sharpe"]].copy()


def _best(table: pd.DataFrame, metric: str) -> list[int]:
    row = table.loc[table[metric].idxmax()]
    return [int(row["fast"]), int(row["slow"])]


def _max_rel_diff(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    """Max relative difference of final equity (1 + total return) on the pairs both have."""
    joined = ours.merge(theirs, on=["fast", "slow"], suffixes=("_ours", "_peer")).dropna()
    growth = (1 + joined["total_return_peer"]) / (1 + joined["total_return_ours"]) - 1
    return float(np.max(np.abs(growth))) if len(growth) else float("nan")


# --- the section ----------------------------------------------------------------------------


def bench_peers(
    *, repeats: int = 3, backtesting_stride: int = BACKTESTING_STRIDE, install: bool = True
) -> dict[str, Any]:
    """The reference sweep in the workbench, vectorbt and backtesting.py, with ratios.

    ``repeats`` warm timings each for the workbench and vectorbt (at least 3), at most 3
    for backtesting.py on every ``backtesting_stride``-th combination (1: the whole grid).
    """
    from core.backtest.spec import EXECUTION, BacktestSpec
    from core.sweep import sweep_ma_crossover

    host = machine()  # the load before this section adds its own
    versions = ensure_peers(install=install)
    versions |= {
        name: importlib.metadata.version(name) for name in ("numpy", "pandas", "numba")
    } | {"python": platform.python_version()}
    spec = BacktestSpec()
    prices = reference_prices()
    fast, slow = grid()
    combos = len(fast)
    repeats = max(3, repeats)

    # workbench: warm in-process, then a new process
    sweep_ma_crossover(prices, fast[:10], slow[:10], spec)
    wb_times, wb_result = timed(lambda: sweep_ma_crossover(prices, fast, slow, spec), repeats)
    wb_cold = run_python_json(_WORKBENCH_COLD, timeout=900, what="peer benchmark")

    # vectorbt: a new process (cold), then warm in-process repeats
    vbt_cold = run_python_json(_VECTORBT_COLD, timeout=900, what="peer benchmark")
    vectorbt_sweep(prices, fast, slow, spec)
    vbt_times, vbt_table = timed(lambda: vectorbt_sweep(prices, fast, slow, spec), repeats)

    # backtesting.py on a documented subset
    stride = max(1, int(backtesting_stride))
    sub_fast, sub_slow = fast[::stride], slow[::stride]
    bt_times, bt_table = timed(
        lambda: backtesting_sweep(prices, sub_fast, sub_slow, spec), min(repeats, 3)
    )

    wb_state = wb_result.table[["fast", "slow", "total_return", "sharpe"]]
    wb_cross = workbench_cross_table(prices, fast, slow, spec)
    in_subset = wb_cross.merge(bt_table[["fast", "slow"]], on=["fast", "slow"])
    # backtesting.py prepays the exit's slippage at entry: split the pairs still long through
    # the last bar (held there: the target of the bar before, since fills come a bar later)
    open_at_end = cross_positions(prices["close"].to_numpy(), sub_fast, sub_slow)[-2] > 0
    bt_flat = bt_table.merge(
        pd.DataFrame({"fast": sub_fast[~open_at_end], "slow": sub_slow[~open_at_end]})
    )
    bt_open = bt_table.merge(
        pd.DataFrame({"fast": sub_fast[open_at_end], "slow": sub_slow[open_at_end]})
    )

    wb_p, vbt_p, bt_p = (percentiles(t) for t in (wb_times, vbt_times, bt_times))
    wb_cps = combos / wb_p["median"]
    vbt_cps = combos / vbt_p["median"]
    bt_cps = len(sub_fast) / bt_p["median"]
    best = {
        "workbench_state": {m: _best(wb_state, m) for m in ("total_return", "sharpe")},
        "workbench_cross": {m: _best(wb_cross, m) for m in ("total_return", "sharpe")},
        "vectorbt": {m: _best(vbt_table, m) for m in ("total_return", "sharpe")},
        "workbench_cross_on_backtesting_subset": {"total_return": _best(in_subset, "total_return")},
        "backtesting_on_subset": {"total_return": _best(bt_table.dropna(), "total_return")},
    }
    report: dict[str, Any] = {
        "workload": {
            "symbol": "SP500",
            "bars": len(prices),
            "combinations": combos,
            "fees": spec.fees,
            "slippage": spec.slippage,
            "init_cash": spec.init_cash,
            "execution": EXECUTION,
        },
        "machine": host,
        "versions": versions,
        "workbench": {
            "sweep_seconds": wb_p,
            "combinations_per_s": wb_cps,
            "metrics_per_combination": 11,
            "cold_new_process": wb_cold,
        },
        "vectorbt": {
            "method": "MA.run_combs + ma_crossed_above/below + Portfolio.from_signals",
            "warm_seconds": vbt_p,
            "combinations_per_s": vbt_cps,
            "metrics_per_combination": 2,
            "cold_new_process": vbt_cold,
        },
        "backtesting": {
            "method": "FractionalBacktest(SmaCross).optimize(maximize='Return [%]')",
            "processes": os.cpu_count(),
            "stride": stride,
            "subset_combinations": len(sub_fast),
            "seconds": bt_p,
            "combinations_per_s": bt_cps,
            "full_grid_seconds_extrapolated": combos / bt_cps,
        },
        "ratios": {
            "workbench_vs_vectorbt_warm": wb_cps / vbt_cps,
            "workbench_vs_vectorbt_cold": vbt_cold["total_s"] / wb_cold["total_s"],
            "workbench_vs_backtesting": wb_cps / bt_cps,
        },
        "agreement": {
            "best": best,
            "vectorbt_equals_workbench_cross": best["vectorbt"] == best["workbench_cross"],
            "backtesting_equals_workbench_cross_on_subset": (
                best["backtesting_on_subset"]["total_return"]
                == best["workbench_cross_on_backtesting_subset"]["total_return"]
            ),
            "vectorbt_vs_workbench_cross_max_rel_diff": _max_rel_diff(wb_cross, vbt_table),
            "backtesting_vs_workbench_cross_max_rel_diff": _max_rel_diff(wb_cross, bt_table),
            "backtesting_vs_workbench_cross_max_rel_diff_flat_at_end": _max_rel_diff(
                wb_cross, bt_flat
            ),
            "backtesting_vs_workbench_cross_max_rel_diff_open_at_end": _max_rel_diff(
                wb_cross, bt_open
            ),
            "backtesting_pairs_open_at_end": int(open_at_end.sum()),
        },
    }
    return report | {"digest": peer_summary(report), "table_markdown": peer_table(report)}


# --- formatting -----------------------------------------------------------------------------


def _pair(pair: Sequence[int]) -> str:
    return f"{pair[0]}/{pair[1]}"


def peer_table(report: Mapping[str, Any]) -> str:
    """The peer report as a Markdown table (the README's Benchmarks table), with its notes."""
    wb, vb, bt, ratios = (report[k] for k in ("workbench", "vectorbt", "backtesting", "ratios"))
    agree, versions, best = report["agreement"], report["versions"], report["agreement"]["best"]
    rows = [
        "| engine | version | combinations/s (median) | workbench is faster by | "
        "new process, import + first sweep | best by total return | best by Sharpe |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
        f"| workbench `sweep_ma_crossover` | {report.get('workbench_version', 'this commit')} | "
        f"{wb['combinations_per_s']:,.0f} | 1× | {wb['cold_new_process']['total_s']:.2f} s | "
        f"{_pair(best['workbench_state']['total_return'])} (state), "
        f"{_pair(best['workbench_cross']['total_return'])} (cross) | "
        f"{_pair(best['workbench_state']['sharpe'])} (state), "
        f"{_pair(best['workbench_cross']['sharpe'])} (cross) |",
        f"| vectorbt, warm | {versions['vectorbt']} | {vb['combinations_per_s']:,.0f} | "
        f"{ratios['workbench_vs_vectorbt_warm']:.1f}× | "
        f"{vb['cold_new_process']['total_s']:.2f} s "
        f"({ratios['workbench_vs_vectorbt_cold']:.1f}× the workbench's) | "
        f"{_pair(best['vectorbt']['total_return'])} | {_pair(best['vectorbt']['sharpe'])} |",
        f"| backtesting.py `optimize`, {bt['processes']} processes | {versions['backtesting']} | "
        f"{bt['combinations_per_s']:,.1f} | {ratios['workbench_vs_backtesting']:,.0f}× | "
        f"(full grid ≈ {bt['full_grid_seconds_extrapolated']:,.0f} s) | "
        f"{_pair(best['backtesting_on_subset']['total_return'])} of its "
        f"{bt['subset_combinations']} (workbench, cross: "
        f"{_pair(best['workbench_cross_on_backtesting_subset']['total_return'])}) | — |",
    ]
    w, mach = report["workload"], report.get("machine", {})
    flat = agree["backtesting_vs_workbench_cross_max_rel_diff_flat_at_end"]
    still = agree["backtesting_vs_workbench_cross_max_rel_diff_open_at_end"]
    notes = [
        f"Workload: {w['symbol']} daily, {w['bars']:,} bars, {w['combinations']:,} (fast, slow) "
        f"pairs, fees {w['fees']:g} and slippage {w['slippage']:g} per fill, fills at the next "
        f"open. backtesting.py ran every {bt['stride']}th pair ({bt['subset_combinations']}), "
        f"median of {bt['seconds']['n']} runs; its rate is extrapolated to the full grid.",
        f"Machine: {mach.get('cpu')}, {mach.get('cores')} cores, {mach.get('memory_gb')} GB; "
        f"load average {mach.get('load_average')} (1, 5, 15 min) when the section started.",
        "Final equity under the cross rule, max relative difference to the workbench: "
        f"vectorbt {agree['vectorbt_vs_workbench_cross_max_rel_diff']:.1e} (all pairs); "
        f"backtesting.py {flat:.1e} on its pairs flat at the last bar, {still:.1e} on the "
        f"{agree['backtesting_pairs_open_at_end']} still long (it charges the exit's "
        "slippage at entry).",
    ]
    return "\n".join(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes)


def peer_summary(report: Mapping[str, Any]) -> str:
    """The one-line digest :func:`core.bench.summary_text` prints above the table."""
    r = report["ratios"]
    return (
        f"peers: workbench sweep {report['workbench']['combinations_per_s']:,.0f} combos/s, "
        f"{r['workbench_vs_vectorbt_warm']:.1f}x vectorbt warm, "
        f"{r['workbench_vs_backtesting']:,.0f}x backtesting.py optimize; best pairs agree "
        f"with vectorbt under the cross rule: "
        f"{'yes' if report['agreement']['vectorbt_equals_workbench_cross'] else 'no'}"
    )


__all__ = [
    "BACKTESTING_STRIDE",
    "FAST",
    "PEER_REQUIREMENTS",
    "SLOW",
    "PeerUnavailable",
    "backtesting_sweep",
    "bench_peers",
    "cross_positions",
    "default_installer",
    "ensure_peers",
    "grid",
    "machine",
    "missing_peers",
    "peer_summary",
    "peer_table",
    "reference_prices",
    "vectorbt_sweep",
    "workbench_cross_table",
]
