"""Range queries on one price path, vectorized over many queries.

The sweep kernel scores thousands of strategies on the same closes. Between two orders a
fully invested long column's equity is ``position * close``, so its drawdown figures
over that stretch are properties of the close path alone: range max/min, the first bar
reaching a threshold, the deepest drawdown of the closes inside a range, and the
longest wait between new highs. :class:`PathIndex` answers each query in O(1) or
O(log T) with sparse tables (doubling), for arrays of ranges at once.
"""

from __future__ import annotations

import numpy as np


class PathIndex:
    """Sparse tables over ``close`` (length T) for half-open ranges ``[lo, hi)``.

    >>> idx = PathIndex(np.array([3.0, 5.0, 4.0, 2.0, 6.0, 6.0, 1.0]))
    >>> idx.range_max(np.array([0, 2]), np.array([4, 7])).tolist()
    [5.0, 6.0]
    >>> idx.argmax_right(np.array([0]), np.array([7])).tolist()
    [5]
    >>> idx.mdd_ratio(np.array([0]), np.array([4])).tolist()
    [0.4]
    >>> idx.first_reaching(np.array([0]), np.array([7]), np.array([1.0]), np.array([5.5])).tolist()
    [4]
    >>> idx.record_gap(np.array([0]), np.array([5])).tolist()  # highs at 0, 1, 4, 5
    [2]
    """

    def __init__(self, close: np.ndarray) -> None:
        c = np.ascontiguousarray(close, dtype=np.float64)
        n = c.shape[0]
        self.n = n
        self.close = c
        levels = max(1, int(n).bit_length())
        # level k covers [i, i + 2**k); entries past the end repeat the last valid value
        mx, mn, dd, am = [c], [c], [np.ones(n)], [np.arange(n)]
        for k in range(1, levels):
            h = 1 << (k - 1)
            if (1 << k) > n:
                break
            m_prev, n_prev, d_prev, a_prev = mx[-1], mn[-1], dd[-1], am[-1]
            right = np.minimum(np.arange(n) + h, n - 1)
            m_r, n_r, d_r, a_r = m_prev[right], n_prev[right], d_prev[right], a_prev[right]
            mx.append(np.maximum(m_prev, m_r))
            mn.append(np.minimum(n_prev, n_r))
            dd.append(np.minimum(np.minimum(d_prev, d_r), n_r / m_prev))
            am.append(np.where(c[a_r] >= c[a_prev], a_r, a_prev))
        self._max, self._min = np.stack(mx), np.stack(mn)
        self._dd, self._argmax = np.stack(dd), np.stack(am)
        self._log = np.zeros(n + 1, dtype=np.int64)
        self._log[2:] = np.floor(np.log2(np.arange(2, n + 1))).astype(np.int64)
        # next index j > i with close[j] >= close[i] (n if none), by doubling
        nxt = self.first_reaching(np.arange(1, n + 1), np.full(n, n), np.ones(n), c)
        up = [np.append(nxt, n)]
        gap = [np.append(np.where(nxt < n, nxt - np.arange(n) - 1, 0), 0)]
        for _ in range(1, levels):
            prev_up, prev_gap = up[-1], gap[-1]
            up.append(prev_up[prev_up])
            gap.append(np.maximum(prev_gap, prev_gap[prev_up]))
        self._up, self._gap = up, gap

    def _split(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self._log[hi - lo]
        return k, hi - (np.int64(1) << k)

    @staticmethod
    def _table(table: np.ndarray, k: np.ndarray, i: np.ndarray) -> np.ndarray:
        out: np.ndarray = table[k, i]
        return out

    def range_max(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Max of ``close[lo:hi]`` (non-empty ranges)."""
        k, j = self._split(lo, hi)
        out: np.ndarray = np.maximum(self._table(self._max, k, lo), self._table(self._max, k, j))
        return out

    def range_min(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Min of ``close[lo:hi]`` (non-empty ranges)."""
        k, j = self._split(lo, hi)
        out: np.ndarray = np.minimum(self._table(self._min, k, lo), self._table(self._min, k, j))
        return out

    def argmax_right(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Last index of the max of ``close[lo:hi]`` (non-empty ranges)."""
        k, j = self._split(lo, hi)
        a, b = self._table(self._argmax, k, lo), self._table(self._argmax, k, j)
        out: np.ndarray = np.where(self.close[b] >= self.close[a], b, a)
        return out

    def mdd_ratio(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """``min(close[t] / max(close[lo:t+1]))`` over ``t`` in ``[lo, hi)`` (1.0 if none)."""
        k, j = self._split(lo, hi)
        out: np.ndarray = np.minimum(self._table(self._dd, k, lo), self._table(self._dd, k, j))
        cross = j > lo  # peaks in [lo, j) before the troughs in [j, hi)
        if cross.any():
            lo_c, j_c, k_c = lo[cross], j[cross], k[cross]
            trough = self._table(self._min, k_c, j_c)
            out[cross] = np.minimum(out[cross], trough / self.range_max(lo_c, j_c))
        return out

    def first_reaching(
        self, lo: np.ndarray, hi: np.ndarray, scale: np.ndarray, threshold: np.ndarray
    ) -> np.ndarray:
        """First ``t`` in ``[lo, hi)`` with ``scale * close[t] >= threshold`` (``hi`` if none)."""
        cur = np.array(lo, dtype=np.int64, copy=True)
        last = self.n - 1
        for k in range(len(self._max) - 1, -1, -1):
            step = 1 << k
            fits = cur + step <= hi
            if not fits.any():
                continue
            below = scale * self._max[k][np.minimum(cur, last)] < threshold
            cur += np.where(fits & below, step, 0)
        return cur

    def record_gap(self, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """Longest run of bars strictly between consecutive new highs (``>=``) of the
        closes, following the highs from ``start`` (itself a high) up to ``stop``, the
        last high, inclusive."""
        cur = np.array(start, dtype=np.int64, copy=True)
        best = np.zeros(cur.shape[0], dtype=np.int64)
        for k in range(len(self._up) - 1, -1, -1):
            nxt = self._up[k][cur]
            ok = nxt <= stop
            if ok.any():
                best = np.where(ok, np.maximum(best, self._gap[k][cur]), best)
                cur = np.where(ok, nxt, cur)
        return best


__all__ = ["PathIndex"]
