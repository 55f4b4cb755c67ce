"""The blocked sweep engine: many columns on one price path, in cache-sized blocks.

Bars are processed in time blocks and columns in chunks, so memory stays flat in both:
every figure a sweep reports is carried from block to block as a running state per
column (cash, position, last equity, running peak, last bar at the peak, sums of
returns, of squared returns and of squared losses, the worst drawdown ratio, the
longest stretch below a peak, trade counts). Within a time block:

1. per chunk of columns, the target positions become held targets and sparse orders
   (the bars where the held target changes), and the position metrics;
2. the orders of all columns are executed together, in a loop over order rank that is
   vectorized over columns (vectorbt's ``from_orders(size_type="targetpercent")``
   arithmetic, see :mod:`core.sweep._kernel`);
3. the return and drawdown metrics are accumulated.

Columns that only ever hold 0 or 1 (long-only, all in) take a fast path: their fills
reduce to ``cash / (1 + fees) / (open * (1 + slippage))`` shares on a buy and
``shares * open * (1 - slippage)`` less fees on a sell (the same floating-point
operations, in the same order, as vectorbt's partial all-in buy and full sell), and
between two orders their equity is ``shares * close`` or constant cash, so their return
sums come from prefix sums of the close-to-close returns and their drawdowns from
range queries on the closes (:class:`core.sweep._path.PathIndex`), without a per-bar
pass. Every other column (shorts, fractional targets) is simulated bar by bar.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.sweep._kernel import OrderBook, equity_rows, execute_orders
from core.sweep._path import PathIndex

CELLS_PER_BLOCK = 12_000_000
"""Default bars x columns of one time block (the reference sweep, 5,031 bars x 2,258
columns, is one block; 500,000 bars are cut into blocks of about 5,300 bars)."""


def default_block_bars(n_cols: int) -> int:
    """Bars per time block of a run of ``n_cols`` columns: about
    :data:`CELLS_PER_BLOCK` / ``n_cols``, at least 256.

    >>> default_block_bars(2_000), default_block_bars(1_000_000)
    (6000, 256)
    """
    return max(256, CELLS_PER_BLOCK // max(n_cols, 1))


DEFAULT_CHUNK = 64
"""Columns whose positions are built together (a few hundred KB per array)."""
_FAST_MIN_COST = 1e-6
"""The fast path needs ``(1 + slippage) * (1 + fees) - 1`` at least this large, so that an
all-in buy is always vectorbt's partial fill (cash / (1 + fees))."""
_FAST_MIN_AMOUNT = 1e-9
"""... and cash and share amounts well above vectorbt's 1e-12 snapping tolerance."""

PositionSource = Callable[[int, int, int, int], np.ndarray]
"""``positions(lo, hi, t0, t1)``: targets of columns ``lo:hi`` decided at bars ``t0:t1``,
shape (hi - lo, t1 - t0); called for consecutive time blocks in order."""
Progress = Callable[[float], None]


class _Carry:
    """Per-column running state between time blocks."""

    def __init__(self, n: int, init_cash: float) -> None:
        self.cash = np.full(n, float(init_cash))
        self.pos = np.zeros(n)
        self.prev_eq = np.full(n, float(init_cash))
        self.peak = np.full(n, float(init_cash))
        self.last_peak = np.full(n, -1, dtype=np.int64)
        self.s1 = np.zeros(n)
        self.s2 = np.zeros(n)
        self.sd = np.zeros(n)
        self.ratio = np.ones(n)
        self.gap = np.zeros(n, dtype=np.int64)
        self.trades = np.zeros(n)
        self.in_market = np.zeros(n)
        self.turnover = np.zeros(n)
        self.target_last = np.zeros(n)  # target decided at the last bar of the block before
        self.held_last = np.zeros(n)  # target held during that bar


def _segments(counts: np.ndarray, bars: np.ndarray, n_bars: int) -> tuple[np.ndarray, ...]:
    """Flat column-major segments between orders: column, rank, first flag, [a, b)."""
    nseg = counts + 1
    starts = np.zeros(nseg.shape[0] + 1, dtype=np.int64)
    np.cumsum(nseg, out=starts[1:])
    col = np.repeat(np.arange(nseg.shape[0]), nseg)
    rank = np.arange(starts[-1]) - starts[col]
    first = rank == 0
    last = rank == counts[col]
    a = np.zeros(starts[-1], dtype=np.int64)
    a[~first] = bars
    b = np.full(starts[-1], n_bars, dtype=np.int64)
    b[~last] = bars
    return col, rank, first, a, b, starts


class _Scan:
    """Running max over each column's segments, as a loop over segment rank that is
    vectorized over columns (busiest columns first, so the active set is a prefix)."""

    def __init__(self, counts: np.ndarray, col: np.ndarray, rank: np.ndarray) -> None:
        self.order = np.argsort(-counts, kind="stable")
        self.inverse = np.empty_like(self.order)
        self.inverse[self.order] = np.arange(counts.shape[0])
        sorted_counts = counts[self.order]
        self.width = int(sorted_counts[0]) + 1 if counts.shape[0] else 1
        # row r + 1 holds segment r, present in columns with counts >= r
        self.active = np.searchsorted(-sorted_counts, -np.arange(self.width), side="right")
        self.rows, self.slots = rank, self.inverse[col]
        self.last = (counts + 1)[self.order]

    def exclusive(self, values: np.ndarray, init: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Max of ``init`` and the earlier segments of the column; and the column total."""
        pad = np.empty((self.width + 1, init.shape[0]), dtype=values.dtype)
        pad[0] = init[self.order]
        pad[self.rows + 1, self.slots] = values
        for r in range(1, self.width + 1):
            m = int(self.active[r - 1])
            np.maximum(pad[r, :m], pad[r - 1, :m], out=pad[r, :m])
        total = pad[self.last, np.arange(init.shape[0])][self.inverse]
        return pad[self.rows, self.slots], total


def _fast_chain(
    counts: np.ndarray,
    col: np.ndarray,
    bars: np.ndarray,
    amount0: np.ndarray,
    first_is_buy: bool,
    adj_buy: np.ndarray,
    adj_sell: np.ndarray,
    fees: float,
) -> np.ndarray:
    """Cash after each sell, shares after each buy, of all-in long columns whose orders
    alternate (buy first when ``first_is_buy``); loop over order rank."""
    n = counts.shape[0]
    if n == 0 or bars.shape[0] == 0:
        return np.empty(0)
    order = np.argsort(-counts, kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(n)
    counts_sorted = counts[order]
    k_max = int(counts_sorted[0])
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    rank = np.arange(bars.shape[0]) - starts[col]
    buy = (rank % 2 == 0) == first_is_buy
    price = np.empty((k_max, n))
    price[rank, inverse[col]] = np.where(buy, adj_buy[bars], adj_sell[bars])
    hist = np.empty((k_max, n))
    amount = amount0[order].copy()
    active = np.searchsorted(-counts_sorted, -np.arange(1, k_max + 1), side="right")
    one_plus_fees = 1.0 + fees
    for k in range(k_max):
        a = amount[: int(active[k])]
        if (k % 2 == 0) == first_is_buy:  # vectorbt buy_nb, partial all-in fill
            a /= one_plus_fees
            a /= price[k, : a.shape[0]]
        else:  # vectorbt sell_nb of the whole position
            a *= price[k, : a.shape[0]]
            a -= a * fees
        hist[k, : a.shape[0]] = a
    out: np.ndarray = hist[rank, inverse[col]]
    return out


def _dense_metrics(eq: np.ndarray, carry: _Carry, cols: np.ndarray, t0: int) -> None:
    """Accumulate return and drawdown figures of equity rows ``eq`` (columns ``cols``)."""
    rets = np.empty_like(eq)
    rets[:, 0] = eq[:, 0] / carry.prev_eq[cols]
    np.divide(eq[:, 1:], eq[:, :-1], out=rets[:, 1:])
    rets -= 1.0
    carry.s1[cols] += rets.sum(axis=1)
    carry.s2[cols] += np.einsum("ij,ij->i", rets, rets)
    down = np.minimum(rets, 0.0, out=rets)
    carry.sd[cols] += np.einsum("ij,ij->i", down, down)
    peak = np.maximum.accumulate(eq, axis=1)
    np.maximum(peak, carry.peak[cols, None], out=peak)
    at_peak = eq >= peak
    carry.peak[cols] = peak[:, -1]
    np.divide(eq, peak, out=peak)
    carry.ratio[cols] = np.minimum(carry.ratio[cols], peak.min(axis=1))
    rows, bars = np.nonzero(at_peak)
    if rows.shape[0]:
        bars = bars + t0
        prev = np.empty_like(bars)
        prev[1:] = bars[:-1]
        first = np.ones(rows.shape[0], dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        prev[first] = carry.last_peak[cols[rows[first]]]
        gaps = bars - prev - 1
        starts = np.flatnonzero(first)
        hit = cols[rows[starts]]
        carry.gap[hit] = np.maximum(carry.gap[hit], np.maximum.reduceat(gaps, starts))
        ends = np.append(starts[1:], rows.shape[0]) - 1
        carry.last_peak[hit] = bars[ends]
    carry.prev_eq[cols] = eq[:, -1]


def _sparse_metrics(
    carry: _Carry,
    cols: np.ndarray,
    counts: np.ndarray,
    bars: np.ndarray,
    amounts: np.ndarray,
    t0: int,
    close: np.ndarray,
    path: PathIndex,
    prefix: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """Accumulate the figures of all-in long columns from their orders alone.

    ``bars`` are the block-local order bars (column-major), ``amounts`` the cash (after
    a sell) or shares (after a buy) from :func:`_fast_chain`."""
    n_bars = path.n
    cb = path.close
    col, rank, first, a, b, starts = _segments(counts, bars, n_bars)
    long0 = carry.pos[cols] > 0
    # state of each segment: (cash, shares); after order k it is the fill's amount
    cash = np.empty(col.shape[0])
    shares = np.empty(col.shape[0])
    cash[first] = carry.cash[cols]
    shares[first] = carry.pos[cols]
    later = ~first
    holds = long0[col[later]] ^ (rank[later] % 2 == 1)  # long after the order
    cash[later] = np.where(holds, 0.0, amounts)
    shares[later] = np.where(holds, amounts, 0.0)
    valid = b > a
    a_q = np.minimum(a, n_bars - 1)
    eq_a = cash + shares * cb[a_q]
    prev = np.empty(col.shape[0])
    prev[first] = carry.prev_eq[cols]
    idx = np.flatnonzero(later)
    prev[idx] = cash[idx - 1] + shares[idx - 1] * close[t0 + a[idx] - 1]
    r = np.where(valid, eq_a / prev - 1.0, 0.0)
    long = shares > 0
    interior = long & (b - a >= 2)
    i0_q = np.where(interior, t0 + a + 1, 0)
    i1_q = np.where(interior, t0 + b, 0)
    sums = []
    for pre, term in zip(prefix, (r, r * r, np.minimum(r, 0.0) ** 2), strict=True):
        extra = np.where(interior, pre[i1_q] - pre[i0_q], 0.0)
        sums.append(np.add.reduceat(term + extra, starts[:-1]))
    carry.s1[cols] += sums[0]
    carry.s2[cols] += sums[1]
    carry.sd[cols] += sums[2]

    # drawdowns: the running peak entering each segment, then each segment's figures
    b_q = np.maximum(b, a_q + 1)
    seg_max = np.where(long, shares * path.range_max(a_q, b_q), cash)
    seg_max[~valid] = -np.inf
    scan = _Scan(counts, col, rank)
    peak_in, peak_out = scan.exclusive(seg_max, carry.peak[cols])
    has_peak = valid & (seg_max >= peak_in)
    ratio = np.full(col.shape[0], np.inf)
    first_pk = a.copy()
    last_pk = b - 1
    internal = np.zeros(col.shape[0], dtype=np.int64)
    flat = valid & ~long
    ratio[flat] = np.where(has_peak[flat], 1.0, cash[flat] / peak_in[flat])
    sel = np.flatnonzero(valid & long & ~has_peak)
    if sel.shape[0]:
        ratio[sel] = shares[sel] * path.range_min(a[sel], b[sel]) / peak_in[sel]
    sel = np.flatnonzero(long & has_peak)
    if sel.shape[0]:
        lo, hi, p, pk = a[sel], b[sel], shares[sel], peak_in[sel]
        tau = path.first_reaching(lo, hi, p, pk)
        top = path.argmax_right(lo, hi)
        before = np.full(sel.shape[0], np.inf)
        some = tau > lo
        if some.any():
            before[some] = p[some] * path.range_min(lo[some], tau[some]) / pk[some]
        ratio[sel] = np.minimum(before, path.mdd_ratio(tau, hi))
        first_pk[sel] = tau
        last_pk[sel] = top
        internal[sel] = path.record_gap(tau, top)
    last_global = np.where(has_peak, t0 + last_pk, -1)
    last_in, last_out = scan.exclusive(last_global, carry.last_peak[cols])
    gaps = np.where(has_peak, np.maximum(t0 + first_pk - last_in - 1, internal), -1)
    carry.peak[cols] = peak_out
    carry.last_peak[cols] = last_out
    carry.ratio[cols] = np.minimum(carry.ratio[cols], np.minimum.reduceat(ratio, starts[:-1]))
    carry.gap[cols] = np.maximum(carry.gap[cols], np.maximum.reduceat(gaps, starts[:-1]))
    end = starts[1:] - 1
    carry.cash[cols] = cash[end]
    carry.pos[cols] = shares[end]
    carry.prev_eq[cols] = cash[end] + shares[end] * cb[n_bars - 1]


def run_blocked(
    positions: PositionSource,
    n_cols: int,
    close: np.ndarray,
    fill: np.ndarray,
    *,
    fees: float,
    slippage: float,
    init_cash: float,
    periods_per_year: float,
    chunk_size: int = DEFAULT_CHUNK,
    block_bars: int | None = None,
    binary: bool = False,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Simulate and score ``n_cols`` target columns on one price path, block by block.

    Parameters
    ----------
    positions : callable
        ``positions(lo, hi, t0, t1)`` -> targets of columns ``lo:hi`` at bars ``t0:t1``.
    n_cols : int
        Number of columns.
    close, fill : ndarray, shape (T,)
        Valuation and fill prices.
    fees, slippage, init_cash, periods_per_year : float
        As in :class:`core.backtest.BacktestSpec`.
    chunk_size : int
        Columns whose positions are built together.
    block_bars : int, optional
        Bars per time block (default: about :data:`CELLS_PER_BLOCK` / ``n_cols``).
    binary : bool
        The source promises targets in {0, 1} (skips a check per chunk).
    progress : callable, optional
        ``progress(fraction)``: up to 0.8 while positions are built, 0.9 once the orders
        of the last block are filled, 1.0 at the end.

    Returns
    -------
    dict of ndarray
        The :data:`core.sweep.result.METRICS`, one value per column.
    """
    n_bars = close.shape[0]
    if block_bars is None:
        block_bars = default_block_bars(n_cols)
    block_bars = max(1, min(int(block_bars), n_bars))
    chunk_size = max(1, int(chunk_size))
    ret = np.zeros(n_bars)
    np.divide(close[1:], close[:-1], out=ret[1:])
    ret[1:] -= 1.0
    pre1, pre2, pre_down = (
        np.concatenate([[0.0], np.cumsum(x)]) for x in (ret, ret * ret, np.minimum(ret, 0.0) ** 2)
    )
    prefix = (pre1, pre2, pre_down)
    adj_buy = fill * (1.0 + slippage)
    adj_sell = fill * (1.0 - slippage)
    fast_ok = (1.0 + slippage) * (1.0 + fees) - 1.0 >= _FAST_MIN_COST and fees < 0.5
    carry = _Carry(n_cols, init_cash)
    blocks = [(t0, min(t0 + block_bars, n_bars)) for t0 in range(0, n_bars, block_bars)]
    chunks = [(lo, min(lo + chunk_size, n_cols)) for lo in range(0, n_cols, chunk_size)]
    steps = len(blocks) * len(chunks)
    done = 0
    for t0, t1 in blocks:
        all_cols, all_bars, all_new, all_old, is_binary = [], [], [], [], []
        carry.in_market += (carry.held_last != 0) * (t1 - t0)
        for lo, hi in chunks:
            pos = np.asarray(positions(lo, hi, t0, t1))
            rows, bars, new_t, old_t, held_binary = _chunk_orders(pos, carry, lo, hi, binary)
            all_cols.append(rows + lo)
            all_bars.append(bars)
            all_new.append(new_t)
            all_old.append(old_t)
            is_binary.append(held_binary)
            done += 1
            if progress is not None:
                progress(0.8 * done / steps)
        cols = np.concatenate(all_cols)
        bars = np.concatenate(all_bars)
        new = np.concatenate(all_new)
        old = np.concatenate(all_old)
        counts = np.bincount(cols, minlength=n_cols)
        opened = (new != 0) & (np.sign(new) != np.sign(old))
        entered = (new != 0).astype(np.float64) - (old != 0)
        carry.in_market += np.bincount(cols, weights=entered * (t1 - t0 - bars), minlength=n_cols)
        carry.trades += np.bincount(cols, weights=opened, minlength=n_cols)
        carry.turnover += np.bincount(cols, weights=np.abs(new - old), minlength=n_cols)
        clean = ((carry.pos == 0) & (carry.cash > 0)) | ((carry.cash == 0) & (carry.pos > 0))
        fast = np.concatenate(is_binary) & clean & fast_ok
        path = PathIndex(close[t0:t1])
        _run_fast(
            carry,
            fast,
            counts,
            cols,
            bars,
            t0,
            close,
            path,
            prefix,
            adj_buy[t0:t1],
            adj_sell[t0:t1],
            fees,
        )
        slow = np.flatnonzero(~fast)
        if slow.shape[0]:
            _run_general(
                carry,
                slow,
                counts,
                cols,
                bars,
                new,
                t0,
                t1,
                close,
                fill,
                fees,
                slippage,
                chunk_size,
            )
        if progress is not None and t1 == n_bars:
            progress(0.9)
    out = _finish(carry, n_bars, init_cash, periods_per_year)
    if progress is not None:
        progress(1.0)
    return out


def _chunk_orders(
    pos: np.ndarray, carry: _Carry, lo: int, hi: int, binary: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Orders of columns ``lo:hi`` in a block: rows, block-local bars, new and old targets,
    and which columns hold only 0 or 1 in the block (all of them when ``binary``).

    The target decided at bar t is held from bar t + 1; an order is sent where the held
    target changes. Updates the carried last target and last held target."""
    width = pos.shape[1]
    held = np.empty(pos.shape, dtype=pos.dtype)
    held[:, 0] = carry.target_last[lo:hi]
    held[:, 1:] = pos[:, :-1]
    flat = held.reshape(-1)
    mask = np.empty(flat.shape[0], dtype=bool)
    np.not_equal(flat[1:], flat[:-1], out=mask[1:])
    np.not_equal(held[:, 0], carry.held_last[lo:hi], out=mask[::width])
    idx = np.flatnonzero(mask)
    rows = idx // width
    bars = idx - rows * width
    new = flat[idx].astype(np.float64)
    old = flat[idx - 1].astype(np.float64)
    at0 = bars == 0
    old[at0] = carry.held_last[lo + rows[at0]]
    carry.target_last[lo:hi] = pos[:, -1]
    carry.held_last[lo:hi] = held[:, -1]
    if binary:
        only01 = np.ones(hi - lo, dtype=bool)
    else:
        only01 = ((held == 0) | (held == 1)).all(axis=1)
    return rows, bars, new, old, only01


def _select_orders(
    which: np.ndarray, counts: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Orders of columns ``which`` (sorted): a mask over all orders and per-group column."""
    member = np.zeros(counts.shape[0], dtype=bool)
    member[which] = True
    keep = member[cols]
    position = np.full(counts.shape[0], -1, dtype=np.int64)
    position[which] = np.arange(which.shape[0])
    return keep, position[cols[keep]]


def _run_fast(
    carry: _Carry,
    fast: np.ndarray,
    counts: np.ndarray,
    cols: np.ndarray,
    bars: np.ndarray,
    t0: int,
    close: np.ndarray,
    path: PathIndex,
    prefix: tuple[np.ndarray, np.ndarray, np.ndarray],
    adj_buy: np.ndarray,
    adj_sell: np.ndarray,
    fees: float,
) -> None:
    """Fill and score the all-in long columns, then send any that came near vectorbt's
    snapping tolerance back to the general path (``fast`` is updated in place)."""
    long_now = carry.pos > 0
    groups = [np.flatnonzero(fast & (long_now == start_long)) for start_long in (False, True)]
    for start_long, which in zip((False, True), groups, strict=True):
        if which.shape[0] == 0:
            continue
        keep, group_col = _select_orders(which, counts, cols)
        group_bars = bars[keep]
        group_counts = counts[which]
        amount0 = carry.pos[which] if start_long else carry.cash[which]
        amounts = _fast_chain(
            group_counts, group_col, group_bars, amount0, not start_long, adj_buy, adj_sell, fees
        )
        tiny = np.zeros(which.shape[0], dtype=bool)
        if amounts.shape[0]:
            np.logical_or.at(tiny, group_col, amounts < _FAST_MIN_AMOUNT)
        if tiny.any():
            fast[which[tiny]] = False
            ok = ~tiny
            which, keep_ok = which[ok], ok[group_col]
            remap = np.cumsum(ok) - 1
            group_col = remap[group_col[keep_ok]]
            group_bars, amounts = group_bars[keep_ok], amounts[keep_ok]
            group_counts = group_counts[ok]
        if which.shape[0]:
            _sparse_metrics(
                carry, which, group_counts, group_bars, amounts, t0, close, path, prefix
            )


def _run_general(
    carry: _Carry,
    which: np.ndarray,
    counts: np.ndarray,
    cols: np.ndarray,
    bars: np.ndarray,
    targets: np.ndarray,
    t0: int,
    t1: int,
    close: np.ndarray,
    fill: np.ndarray,
    fees: float,
    slippage: float,
    chunk_size: int,
) -> None:
    """Fill any targets bar by bar (the exact general kernel) and score them densely."""
    keep, group_col = _select_orders(which, counts, cols)
    book = OrderBook(
        n_bars=t1 - t0,
        cols=group_col,
        bars=bars[keep],
        targets=targets[keep],
        counts=counts[which],
    )
    states = execute_orders(
        book,
        fill[t0:t1],
        fees=fees,
        slippage=slippage,
        init_cash=carry.cash[which],
        init_position=carry.pos[which],
    )
    block_close = close[t0:t1]
    step = max(1, chunk_size)
    for lo in range(0, which.shape[0], step):
        hi = min(lo + step, which.shape[0])
        _dense_metrics(equity_rows(states, block_close, lo, hi), carry, which[lo:hi], t0)
    end = states.starts[1:] - 1
    carry.cash[which] = states.cash[end]
    carry.pos[which] = states.position[end]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _finish(
    carry: _Carry, n_bars: int, init_cash: float, periods_per_year: float
) -> dict[str, np.ndarray]:
    """Metrics from the accumulated sums (same definitions as
    :func:`core.backtest.metrics.equity_metrics` and ``position_metrics``)."""
    ann = np.sqrt(periods_per_year)
    total = carry.prev_eq / init_cash - 1.0
    mean = carry.s1 / n_bars
    var = (carry.s2 - carry.s1 * mean) / (n_bars - 1) if n_bars > 1 else np.full_like(mean, np.nan)
    std = np.sqrt(np.maximum(var, 0.0))
    downside = np.sqrt(carry.sd / n_bars)
    growth = 1.0 + total
    with np.errstate(invalid="ignore", divide="ignore"):
        cagr = np.where(growth > 0, growth ** (periods_per_year / n_bars), 0.0) - 1.0
    mdd = np.minimum(carry.ratio - 1.0, 0.0)
    duration = np.maximum(carry.gap, n_bars - carry.last_peak - 1)
    return {
        "total_return": total,
        "cagr": cagr,
        "volatility": std * ann,
        "sharpe": _safe_div(mean, std) * ann,
        "sortino": _safe_div(mean, downside) * ann,
        "max_drawdown": mdd,
        "max_drawdown_duration": duration,
        "calmar": _safe_div(cagr, -mdd),
        "n_trades": carry.trades.astype(np.int64),
        "exposure": carry.in_market / n_bars,
        "turnover": carry.turnover / n_bars * periods_per_year,
    }


__all__ = [
    "CELLS_PER_BLOCK",
    "DEFAULT_CHUNK",
    "PositionSource",
    "default_block_bars",
    "run_blocked",
]
