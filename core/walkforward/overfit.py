"""Multiple-testing corrections for backtests: deflated Sharpe ratio and PBO.

References
----------
Bailey, D. H. and López de Prado, M. (2014), "The Deflated Sharpe Ratio: Correcting for
Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management.

Bailey, D. H., Borwein, J., López de Prado, M. and Zhu, Q. J. (2015), "The Probability of
Backtest Overfitting", Journal of Computational Finance.

All Sharpe ratios here are per period (not annualized): ``mean(r) / std(r, ddof=1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats

EULER_GAMMA = 0.5772156649015329


def _sharpe(returns: np.ndarray) -> float:
    std = float(np.std(returns, ddof=1))
    return float(np.mean(returns) / std) if std > 0 else 0.0


def expected_max_sharpe(trials: int, sharpe_variance: float) -> float:
    r"""Expected maximum of ``trials`` Sharpe estimates under the null of no skill.

    .. math::
        SR_0 = \sqrt{V[SR]}\,\big((1-\gamma)\,\Phi^{-1}(1 - 1/N)
               + \gamma\,\Phi^{-1}(1 - 1/(N e))\big)

    with :math:`\gamma` the Euler-Mascheroni constant; 0 for a single trial.

    >>> round(expected_max_sharpe(100, 0.01), 6)
    0.25306
    """
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if sharpe_variance < 0:
        raise ValueError(f"sharpe_variance must be >= 0, got {sharpe_variance}")
    if trials == 1:
        return 0.0
    n = float(trials)
    z1 = stats.norm.ppf(1.0 - 1.0 / n)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n * math.e))
    return float(math.sqrt(sharpe_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    r"""Probability that the true Sharpe exceeds ``sr_benchmark`` (PSR).

    .. math::
        PSR = \Phi\left(\frac{(\widehat{SR} - SR^*)\sqrt{T - 1}}
              {\sqrt{1 - \gamma_3 \widehat{SR} + \frac{\gamma_4 - 1}{4}\widehat{SR}^2}}\right)

    ``kurtosis`` is Pearson's (3 for a normal distribution), ``sr`` per period.

    >>> round(probabilistic_sharpe_ratio(0.1, 0.0, 101), 6)  # Phi(0.1 * 10 / sqrt(1.005))
    0.840741
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2, got {n_obs}")
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if denom <= 0:
        return float("nan")
    return float(stats.norm.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denom)))


def deflated_sharpe_ratio(
    returns: Sequence[float] | np.ndarray,
    trials: int,
    *,
    sharpe_variance: float | None = None,
    sr_estimates: Sequence[float] | np.ndarray | None = None,
) -> dict[str, float]:
    """Deflated Sharpe ratio: PSR against the expected best Sharpe of ``trials`` tries.

    Parameters
    ----------
    returns : array
        Per-period returns of the selected strategy.
    trials : int
        Number of independent configurations tried to find it.
    sharpe_variance : float, optional
        Variance of the per-period Sharpe estimates across the trials.
    sr_estimates : array, optional
        Per-period Sharpe ratios of all trials; their sample variance is used when
        ``sharpe_variance`` is not given. With neither, the variance of the Sharpe
        estimator under the null, ``1 / (T - 1)``, is used.

    Returns
    -------
    dict
        ``dsr`` (probability), ``psr`` (against 0), ``sr`` (per period), ``sr0``
        (expected max under the null), ``trials``, ``n_obs``, ``skew``, ``kurtosis``
        (Pearson) and ``sharpe_variance``.

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(0.001, 0.01, 1000)
    >>> out = deflated_sharpe_ratio(r, 50, sharpe_variance=0.001)
    >>> out["sr0"] > 0, out["dsr"] < out["psr"]
    (True, True)
    """
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    n_obs = int(r.size)
    if n_obs < 3:
        raise ValueError(f"need at least 3 finite returns, got {n_obs}")
    sr = _sharpe(r)
    skew = float(stats.skew(r, bias=False)) if np.std(r) > 0 else 0.0
    kurt = float(stats.kurtosis(r, fisher=False, bias=False)) if np.std(r) > 0 else 3.0
    if sharpe_variance is None:
        if sr_estimates is not None and len(sr_estimates) > 1:
            est = np.asarray(sr_estimates, dtype=np.float64)
            sharpe_variance = float(np.var(est[np.isfinite(est)], ddof=1))
        else:
            sharpe_variance = 1.0 / (n_obs - 1)
    sr0 = expected_max_sharpe(trials, sharpe_variance)
    return {
        "dsr": probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt),
        "psr": probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt),
        "sr": sr,
        "sr0": sr0,
        "trials": int(trials),
        "n_obs": n_obs,
        "skew": skew,
        "kurtosis": kurt,
        "sharpe_variance": float(sharpe_variance),
    }


Metric = Callable[[np.ndarray], np.ndarray]


def _group_sharpe(sums: np.ndarray, sq: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sharpe of unions of groups from their sums, sums of squares and row counts."""
    mean = sums / counts[:, None]
    var = (sq - counts[:, None] * mean**2) / (counts[:, None] - 1)
    std = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(std > 0, mean / std, 0.0)


def pbo_cscv(
    returns_matrix: np.ndarray | Any,
    n_splits: int = 16,
    metric: str | Metric = "sharpe",
) -> dict[str, Any]:
    r"""Probability of backtest overfitting by combinatorially symmetric cross-validation.

    The T x N matrix (one column per strategy configuration) is cut into ``n_splits``
    equal row blocks. For each of the :math:`\binom{S}{S/2}` ways to choose half of the
    blocks as in-sample (the rest out-of-sample) the in-sample best strategy
    :math:`n^*` is found, its out-of-sample relative rank
    :math:`\omega = \mathrm{rank}/(N + 1)` taken and :math:`\lambda = \ln(\omega/(1-\omega))`.

    .. math:: PBO = \frac{1}{C} \sum_c \mathbf{1}[\lambda_c \le 0]

    Parameters
    ----------
    returns_matrix : (T, N) array or DataFrame
        Per-period returns; the first ``T mod n_splits`` rows are dropped.
    n_splits : int
        Even number of blocks S (16 gives 12,870 combinations).
    metric : "sharpe", "mean" or callable
        Performance of each column on a (rows, N) block; a callable receives the
        in-sample or out-of-sample rows and returns N scores.

    Returns
    -------
    dict
        ``pbo``, ``logits`` (array of length C), ``n_combinations``, ``n_splits``,
        ``n_strategies``, ``prob_oos_loss`` (share of combinations where the chosen
        strategy's out-of-sample metric is negative).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> r = rng.normal(0, 0.01, (800, 10))
    >>> r[:, 3] += 0.005  # a real edge
    >>> pbo_cscv(r, n_splits=8)["pbo"]
    0.0
    """
    mat = np.asarray(returns_matrix, dtype=np.float64)
    if mat.ndim != 2 or mat.shape[1] < 2:
        raise ValueError("returns_matrix must be (T, N) with N >= 2 strategies")
    if n_splits < 2 or n_splits % 2:
        raise ValueError(f"n_splits must be an even number >= 2, got {n_splits}")
    t, n = mat.shape
    block = t // n_splits
    if block < 2:
        raise ValueError(f"{t} rows are too few for {n_splits} blocks of >= 2 rows")
    if not np.all(np.isfinite(mat)):
        raise ValueError("returns_matrix contains NaN or infinite values")
    mat = mat[t - block * n_splits :]
    blocks = mat.reshape(n_splits, block, n)
    combos = np.array(list(combinations(range(n_splits), n_splits // 2)))
    member = np.zeros((len(combos), n_splits), dtype=bool)
    member[np.arange(len(combos))[:, None], combos] = True

    if metric in ("sharpe", "mean"):
        sums = blocks.sum(axis=1)
        sq = (blocks**2).sum(axis=1)
        counts_is = member.sum(axis=1) * block
        counts_oos = (~member).sum(axis=1) * block
        is_sum, oos_sum = member @ sums, (~member) @ sums
        if metric == "sharpe":
            perf_is = _group_sharpe(is_sum, member @ sq, counts_is.astype(float))
            perf_oos = _group_sharpe(oos_sum, (~member) @ sq, counts_oos.astype(float))
        else:
            perf_is = is_sum / counts_is[:, None]
            perf_oos = oos_sum / counts_oos[:, None]
    elif callable(metric):
        perf_is = np.empty((len(combos), n))
        perf_oos = np.empty((len(combos), n))
        for i, row in enumerate(member):
            perf_is[i] = metric(blocks[row].reshape(-1, n))
            perf_oos[i] = metric(blocks[~row].reshape(-1, n))
    else:
        raise ValueError(f"metric must be 'sharpe', 'mean' or a callable, got {metric!r}")

    best = np.argmax(perf_is, axis=1)
    ranks = stats.rankdata(perf_oos, axis=1)
    omega = ranks[np.arange(len(combos)), best] / (n + 1)
    logits = np.log(omega / (1.0 - omega))
    chosen_oos = perf_oos[np.arange(len(combos)), best]
    return {
        "pbo": float(np.mean(logits <= 0)),
        "logits": logits,
        "n_combinations": len(combos),
        "n_splits": n_splits,
        "n_strategies": n,
        "prob_oos_loss": float(np.mean(chosen_oos < 0)),
    }


__all__ = [
    "EULER_GAMMA",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "pbo_cscv",
    "probabilistic_sharpe_ratio",
]
