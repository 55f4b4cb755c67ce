"""Pure-numpy replica of vectorbt's ``from_orders(size_type="targetpercent")`` accounting.

Many columns (strategies) run over one price path at once. Arrays are laid out as rows =
columns, i.e. shape (N, T), so every per-strategy scan is contiguous in memory.

Orders are sparse (only where the held target changes), so the simulation loops over
*order rank* k (the k-th order of every column), vectorized across columns, rather than
over bars. Cash and position after each order are then spread over the bars with
``np.repeat`` to give per-bar equity ``cash + position * close``. The order arithmetic,
including vectorbt's tolerance rules (``is_close`` with rel 1e-9 / abs 1e-12) and its
all-in partial fill when cash cannot cover value plus fees, follows
``vectorbt.portfolio.nb.buy_nb`` / ``sell_nb`` / ``execute_order_nb`` (vectorbt 1.2).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.backtest.execution import held_targets, order_mask

_REL_TOL = 1e-9
_ABS_TOL = 1e-12


def _is_close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    tol = np.maximum(_REL_TOL * np.maximum(np.abs(a), np.abs(b)), _ABS_TOL)
    out: np.ndarray = (a == b) | (np.abs(a - b) <= tol)
    return out


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """vectorbt's ``add_nb``: a + b, snapped to 0 when the sum is numerically zero."""
    total = a + b
    opposite = np.sign(a) != np.sign(b)
    zero = np.where(opposite, _is_close(np.abs(a), np.abs(b)), np.abs(total) <= _ABS_TOL)
    total[zero] = 0.0
    out: np.ndarray = total
    return out


def _snap_zero(a: np.ndarray) -> np.ndarray:
    return np.where(np.abs(a) <= _ABS_TOL, 0.0, a)


class OrderBook(NamedTuple):
    """Sparse target-percent orders of N columns over T bars, sorted column-major."""

    n_bars: int
    cols: np.ndarray
    bars: np.ndarray
    targets: np.ndarray
    counts: np.ndarray

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return int(self.counts.shape[0])


def extract_orders(held_rows: np.ndarray) -> OrderBook:
    """Orders implied by held targets laid out as rows (N, T)."""
    held_rows = np.asarray(held_rows)
    mask = order_mask(held_rows, axis=1)
    cols, bars = np.nonzero(mask)
    return OrderBook(
        n_bars=held_rows.shape[1],
        cols=cols,
        bars=bars,
        targets=held_rows[cols, bars].astype(np.float64),
        counts=mask.sum(axis=1),
    )


def concat_orders(books: list[OrderBook]) -> OrderBook:
    """Stack order books of consecutive column blocks into one."""
    offsets = np.cumsum([0] + [b.n_cols for b in books[:-1]])
    return OrderBook(
        n_bars=books[0].n_bars,
        cols=np.concatenate([b.cols + off for b, off in zip(books, offsets, strict=True)]),
        bars=np.concatenate([b.bars for b in books]),
        targets=np.concatenate([b.targets for b in books]),
        counts=np.concatenate([b.counts for b in books]),
    )


def _execute(
    cash: np.ndarray,
    pos: np.ndarray,
    price: np.ndarray,
    target: np.ndarray,
    fees: float,
    slippage: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One target-percent order per column (valued at the fill price); new (cash, position)."""
    value = cash + np.where(pos != 0, pos * price, 0.0)
    cash = _snap_zero(cash)
    pos = _snap_zero(pos)
    value = _snap_zero(value)
    with np.errstate(divide="ignore", invalid="ignore"):
        size = target * value
        size /= price
        size -= pos
    valid = value > 0
    new_cash = cash.copy()
    new_pos = pos.copy()

    # buy / cover (vectorbt buy_nb)
    buy = valid & (size > _ABS_TOL) & (cash != 0)
    if buy.any():
        b_size, b_cash, b_pos = size[buy], cash[buy], pos[buy]
        adj_price = price[buy] * (1.0 + slippage)
        req_cash = b_size * adj_price
        total_req = req_cash + req_cash * fees
        full = (total_req < b_cash) | _is_close(total_req, b_cash)
        max_req = b_cash / (1.0 + fees)
        fill_size = np.where(full, b_size, max_req / adj_price)
        cost = np.where(full, total_req, b_cash)
        ok = full | (max_req > 0)
        new_cash[buy] = np.where(ok, _add(b_cash, -cost), b_cash)
        new_pos[buy] = np.where(ok, _add(b_pos, fill_size), b_pos)

    # sell / short (vectorbt sell_nb, Direction.Both, no cash lock)
    sell = valid & (size < -_ABS_TOL)
    if sell.any():
        s_size, s_cash, s_pos = -size[sell], cash[sell], pos[sell]
        acq = s_size * (price[sell] * (1.0 - slippage))
        final_acq = _add(acq, -(acq * fees))
        ok = final_acq >= 0
        new_cash[sell] = np.where(ok, s_cash + final_acq, s_cash)
        new_pos[sell] = np.where(ok, _add(s_pos, -s_size), s_pos)
    return new_cash, new_pos


class States(NamedTuple):
    """Cash and position after each order, flat column-major: column j holds its initial
    state followed by one state per order, in ``flat[starts[j]:starts[j + 1]]``;
    ``lengths`` gives the number of bars each state is held."""

    cash: np.ndarray
    position: np.ndarray
    lengths: np.ndarray
    starts: np.ndarray
    n_bars: int


def execute_orders(
    book: OrderBook,
    fill_price: np.ndarray,
    *,
    fees: float,
    slippage: float,
    init_cash: float | np.ndarray,
    init_position: np.ndarray | None = None,
) -> States:
    """Run every column's orders; the loop is over order rank, vectorized over columns.

    ``init_cash`` (scalar or per column) and ``init_position`` (per column, default flat)
    are the state before the first bar, e.g. carried over from an earlier block of bars.
    """
    n_cols, counts = book.n_cols, book.counts
    order = np.argsort(-counts, kind="stable")  # busiest columns first: active set is a prefix
    inverse = np.empty_like(order)
    inverse[order] = np.arange(n_cols)
    counts_sorted = counts[order]
    k_max = int(counts_sorted[0]) if n_cols else 0
    event_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    rank = np.arange(book.cols.shape[0]) - event_start[book.cols]
    padded_price = np.ones((k_max, n_cols))
    padded_target = np.zeros((k_max, n_cols))
    padded_price[rank, inverse[book.cols]] = fill_price[book.bars]
    padded_target[rank, inverse[book.cols]] = book.targets

    cash_hist = np.empty((k_max + 1, n_cols))
    pos_hist = np.empty((k_max + 1, n_cols))
    cash = np.broadcast_to(np.asarray(init_cash, dtype=np.float64), (n_cols,))[order].copy()
    pos = np.zeros(n_cols) if init_position is None else np.asarray(init_position)[order].copy()
    cash_hist[0] = cash
    pos_hist[0] = pos
    active = np.searchsorted(-counts_sorted, -np.arange(1, k_max + 1), side="right")
    for k in range(k_max):
        m = int(active[k])
        cash[:m], pos[:m] = _execute(
            cash[:m], pos[:m], padded_price[k, :m], padded_target[k, :m], fees, slippage
        )
        cash_hist[k + 1] = cash
        pos_hist[k + 1] = pos

    # flatten to column-major states with the number of bars each state is held
    per_col = counts + 1
    starts = np.concatenate([[0], np.cumsum(per_col)]).astype(np.int64)
    flat_col = np.repeat(np.arange(n_cols), per_col)
    flat_rank = np.arange(starts[-1]) - starts[flat_col]
    first = flat_rank == 0
    last = flat_rank == counts[flat_col]
    begin = np.zeros(starts[-1], dtype=np.int64)
    begin[~first] = book.bars
    end = np.full(starts[-1], book.n_bars, dtype=np.int64)
    end[~last] = book.bars
    return States(
        cash=cash_hist[flat_rank, inverse[flat_col]],
        position=pos_hist[flat_rank, inverse[flat_col]],
        lengths=end - begin,
        starts=starts,
        n_bars=book.n_bars,
    )


def equity_rows(
    states: States, close: np.ndarray, lo: int = 0, hi: int | None = None
) -> np.ndarray:
    """Per-bar equity ``cash + position * close`` of columns ``lo:hi``, shape (hi - lo, T)."""
    hi = states.starts.shape[0] - 1 if hi is None else hi
    sl = slice(states.starts[lo], states.starts[hi])
    n = hi - lo
    cash = np.repeat(states.cash[sl], states.lengths[sl]).reshape(n, states.n_bars)
    pos = np.repeat(states.position[sl], states.lengths[sl]).reshape(n, states.n_bars)
    pos *= close
    pos += cash
    return pos


class Simulation(NamedTuple):
    """Per-bar results of :func:`simulate_targets`, each (T,) or (T, N) like the targets."""

    equity: np.ndarray
    held: np.ndarray


def simulate_targets(
    fill_price: np.ndarray,
    close: np.ndarray,
    targets: np.ndarray,
    *,
    fees: float,
    slippage: float,
    init_cash: float,
) -> Simulation:
    """Simulate target-percent positions for many columns on one price path.

    Parameters
    ----------
    fill_price : ndarray, shape (T,)
        Price at which bar t's orders fill (the bar's open, or close).
    close : ndarray, shape (T,)
        Valuation price at the end of each bar.
    targets : ndarray, shape (T,) or (T, N)
        Target fraction of equity decided at the close of each bar; filled next bar.
    fees, slippage, init_cash : float
        As in :class:`core.backtest.BacktestSpec`.

    Returns
    -------
    Simulation
        Equity and held target per bar (and column).
    """
    fill_price = np.asarray(fill_price, dtype=np.float64)
    close = np.asarray(close, dtype=np.float64)
    targets = np.nan_to_num(np.asarray(targets, dtype=np.float64), nan=0.0)
    squeeze = targets.ndim == 1
    rows = targets[None, :] if squeeze else np.ascontiguousarray(targets.T)
    held = held_targets(rows, axis=1)
    states = execute_orders(
        extract_orders(held), fill_price, fees=fees, slippage=slippage, init_cash=init_cash
    )
    equity = equity_rows(states, close)
    if squeeze:
        return Simulation(equity[0], held[0])
    return Simulation(equity.T, held.T)
