"""Online meta-selectors over agents, learning bar by bar from realized rewards only.

Protocol of every selector, at the close of bar t:

1. ``update(rewards_t, context_t)`` with the agents' returns of bar t (known only now);
2. ``step(context_t)`` -> the weights for bar t+1 and an explanation.

So the weights used for bar t+1 depend on rewards up to bar t and contexts up to t only.
Scores are annualized Sharpe-like numbers (see :class:`core.ensemble.spec.SelectorSpec`);
target weights are ``softmax(scores / temperature)`` (EXP3: its own exponential weights)
and the held weights move towards the target by ``smoothing`` per bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.ensemble.spec import SelectorSpec
from core.regime import LABELS

_SD_FLOOR = 1e-12


def softmax(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable ``exp(s / T) / sum(exp(s / T))``; non-finite scores count as -inf.

    >>> softmax(np.array([0.0, np.log(3.0)])).round(3).tolist()
    [0.25, 0.75]
    """
    s = np.asarray(scores, dtype=np.float64) / temperature
    top = s.max()
    if not math.isfinite(top) or np.isnan(s).any():  # slow path: inf / NaN entries
        s = np.where(np.isfinite(s), s, -np.inf)
        if not np.isfinite(s).any():
            return np.full(s.shape, 1.0 / s.size)
        top = s.max()
    e = np.exp(s - top)
    weights: np.ndarray = e / e.sum()
    return weights


def smooth_weights(previous: np.ndarray, target: np.ndarray, smoothing: float) -> np.ndarray:
    """``(1 - smoothing) * previous + smoothing * target`` (stays on the simplex).

    >>> smooth_weights(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.25).tolist()
    [0.75, 0.25]
    """
    return (1.0 - smoothing) * previous + smoothing * target


@dataclass(frozen=True, slots=True)
class SelectorStep:
    """What a selector decided at one close.

    Attributes
    ----------
    weights : ndarray
        Weights held over the next bar (sum to 1).
    target : ndarray
        Unsmoothed target weights.
    scores : ndarray
        Per-agent scores behind the target.
    chosen : int
        Agent with the largest held weight.
    pulled : int
        Arm the bandit observes next under ``feedback="bandit"``.
    explanation : str
        E.g. ``"chose trend: highest UCB 1.30 in regime bear, 42 observations"``.
    """

    weights: np.ndarray
    target: np.ndarray
    scores: np.ndarray
    chosen: int
    pulled: int
    explanation: str


class Selector:
    """Shared statistics and bookkeeping; subclasses define :meth:`_scores`.

    Statistics are kept per context row: one row for the plain selectors, one per regime
    label for the contextual one, where each observation is weighted by the filtered
    probability of the regime.

    Parameters
    ----------
    agents : sequence of str
        Agent names (order of every array).
    spec : SelectorSpec
    seed : int
        Seeds the random draws (Thompson samples, EXP3 pulls).
    """

    kind = "base"
    score_label = "score"
    n_contexts = 1

    def __init__(
        self, agents: Sequence[str], spec: SelectorSpec | None = None, *, seed: int = 0
    ) -> None:
        self.agents = tuple(agents)
        if len(self.agents) < 1 or len(set(self.agents)) != len(self.agents):
            raise ValueError(f"agents must be unique and non-empty, got {self.agents}")
        self.spec = spec or SelectorSpec()
        self.seed = int(seed)
        self.reset()

    # ----- lifecycle ---------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (weights back to uniform)."""
        k, c = len(self.agents), self.n_contexts
        self.rng = np.random.default_rng(self.seed)
        self._arms = np.arange(k)
        self.count = np.zeros((c, k))
        self.total = np.zeros((c, k))
        self.total_sq = np.zeros((c, k))
        self.pool_n = 0.0
        self.pool_sq = 0.0
        self.weights = np.full(k, 1.0 / k)
        self.pulled = 0
        self.steps = 0
        self._annual = math.sqrt(self.spec.periods_per_year)

    def fresh(self) -> Selector:
        """A new selector of the same kind, agents, spec and seed."""
        return type(self)(self.agents, self.spec, seed=self.seed)

    # ----- learning ----------------------------------------------------------------------
    _ONE = np.ones(1)

    def _context(self, context: np.ndarray | None) -> np.ndarray:
        return self._ONE

    def update(self, rewards: np.ndarray, context: np.ndarray | None = None) -> None:
        """Absorb the agents' realized returns of the bar that just closed.

        Parameters
        ----------
        rewards : ndarray (n_agents,)
            Realized per-bar returns; non-finite entries are ignored.
        context : ndarray, optional
            Filtered regime probabilities of that bar (``LABELS`` order); used by the
            contextual selector, ignored by the others.
        """
        r = np.asarray(rewards, dtype=np.float64)
        seen = np.isfinite(r)
        if self.spec.feedback == "bandit":
            seen &= self._arms == self.pulled
        everything = bool(seen.all())
        if not everything:
            if not seen.any():
                return
            r = np.where(seen, r, 0.0)
        r_sq = r * r
        mass = self._context(context)
        decay = (self.spec.discount**mass)[:, None]  # (C, 1)
        obs = mass[:, None]
        if not everything:
            decay = np.where(seen, decay, 1.0)
            obs = obs * seen
        for stat, value in ((self.count, 1.0), (self.total, r), (self.total_sq, r_sq)):
            stat *= decay
            stat += obs * value
        self.pool_n += float(seen.sum()) if not everything else float(r.size)
        self.pool_sq += float(r_sq.sum())
        self._learn(r, seen, mass)

    def _learn(self, rewards: np.ndarray, seen: np.ndarray, mass: np.ndarray) -> None:
        """Hook for selectors with extra state (EXP3)."""

    # ----- statistics --------------------------------------------------------------------
    def _pool_sd(self) -> float:
        return math.sqrt(self.pool_sq / self.pool_n) if self.pool_n > 0 else 1.0

    def _moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Shrunk mean and standard deviation per (context, agent)."""
        n0 = self.spec.prior_bars
        pool_var = max(self._pool_sd(), _SD_FLOOR) ** 2
        inv = 1.0 / (self.count + (n0 + _SD_FLOOR))
        mean = self.total * inv
        var = (self.total_sq + n0 * pool_var) * inv - mean * mean
        sd = np.sqrt(np.maximum(var, 0.01 * pool_var))
        return mean, sd

    # ----- deciding ----------------------------------------------------------------------
    def _scores(self, probs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _target(self, scores: np.ndarray) -> np.ndarray:
        return softmax(scores, self.spec.temperature)

    def _pull(self, scores: np.ndarray, target: np.ndarray) -> int:
        return int(np.argmax(scores))

    def _explain(self, chosen: int, scores: np.ndarray, probs: np.ndarray) -> str:
        c = int(np.argmax(probs))
        where = f" in regime {LABELS[c]}" if self.n_contexts > 1 else ""
        n = float(self.count[c, chosen])
        best = int(np.argmax(scores))
        if best == chosen:
            return (
                f"chose {self.agents[chosen]}: highest {self.score_label} "
                f"{scores[chosen]:.2f}{where}, {n:.0f} observations "
                f"(weight {self.weights[chosen]:.2f})"
            )
        # Smoothing keeps the previous favourite on top while weight moves towards the leader.
        return (
            f"kept {self.agents[chosen]} (weight {self.weights[chosen]:.2f}, "
            f"{self.score_label} {scores[chosen]:.2f}) while shifting weight to "
            f"{self.agents[best]}, highest {self.score_label} {scores[best]:.2f}{where}, "
            f"{float(self.count[c, best]):.0f} observations"
        )

    def step(self, context: np.ndarray | None = None) -> SelectorStep:
        """Weights for the next bar from everything absorbed so far.

        Parameters
        ----------
        context : ndarray, optional
            Filtered regime probabilities at this close (contextual selector only).
        """
        probs = self._context(context)
        scores = self._scores(probs)
        target = self._target(scores)
        self.weights = smooth_weights(self.weights, target, self.spec.smoothing)
        self.pulled = self._pull(scores, target)
        self.steps += 1
        chosen = int(np.argmax(self.weights))
        return SelectorStep(
            weights=self.weights.copy(),
            target=target,
            scores=scores,
            chosen=chosen,
            pulled=self.pulled,
            explanation=self._explain(chosen, scores, probs),
        )


class UCB1Selector(Selector):
    """UCB1: ``sqrt(ppy) * (mean_i / sd_i + c * sqrt(2 ln N / n_i))``.

    ``N`` is the total (discounted) number of observations and ``n_i`` agent i's; an agent
    never observed scores ``+inf`` (bandit feedback tries every arm first).
    """

    kind = "ucb"
    score_label = "UCB"

    def _ucb(self, row: slice | int = 0) -> np.ndarray:
        mean, sd = self._moments()
        n = self.count[row]
        # N: bars seen (full feedback: every arm each bar) or pulls (bandit feedback)
        total = n.sum(axis=-1, keepdims=True)
        if self.spec.feedback == "full":
            total = total / len(self.agents)
        with np.errstate(divide="ignore", invalid="ignore"):
            bonus = self.spec.ucb_c * np.sqrt(2.0 * np.log(np.maximum(total, 1.0)) / n)
        bonus[n <= 0] = np.inf
        scores: np.ndarray = self._annual * (mean[row] / sd[row] + bonus)
        return scores

    def _scores(self, probs: np.ndarray) -> np.ndarray:
        scores = self._ucb(0)
        if np.isinf(scores).any():  # unexplored arms first (bandit feedback)
            return np.where(np.isinf(scores), 1.0, 0.0)
        return scores


class ThompsonSelector(Selector):
    """Gaussian Thompson sampling by probability matching.

    Each agent's mean reward has posterior ``N(mean_i, sd_i^2 / (n_i + prior_bars))``. The
    target weight of an agent is the share of ``thompson_draws`` seeded joint draws in
    which it has the highest sampled Sharpe, i.e. a Monte-Carlo estimate of ``P(best)``
    (the allocation Thompson sampling plays); the score shown is that probability. Under
    bandit feedback the pulled arm is the winner of the first draw.
    """

    kind = "thompson"
    score_label = "Thompson P(best)"

    def _scores(self, probs: np.ndarray) -> np.ndarray:
        mean, sd = self._moments()
        k = len(self.agents)
        n = np.maximum(self.count[0] + self.spec.prior_bars, 1.0)
        z = self.rng.standard_normal((self.spec.thompson_draws, k))
        draws = (mean[0] + sd[0] / np.sqrt(n) * z) / sd[0]
        winners = np.argmax(draws, axis=1)
        self._first = int(winners[0])
        shares: np.ndarray = np.bincount(winners, minlength=k) / winners.size
        return shares

    def _target(self, scores: np.ndarray) -> np.ndarray:
        return scores

    def _pull(self, scores: np.ndarray, target: np.ndarray) -> int:
        return self._first


class EXP3Selector(Selector):
    """EXP3 / Hedge: ``p = (1 - gamma) softmax(eta * G) + gamma / K``.

    ``G_i`` is the discounted cumulative reward in units of the pooled standard deviation
    (importance-weighted ``r_i / p_i`` under bandit feedback). The target weights are ``p``;
    the score shown is ``eta * G_i``. Under bandit feedback the pulled arm is drawn from
    ``p`` with the seeded generator.
    """

    kind = "exp3"
    score_label = "EXP3 log-weight"

    def reset(self) -> None:
        super().reset()
        self.gain = np.zeros(len(self.agents))
        self._probs = np.full(len(self.agents), 1.0 / len(self.agents))

    def _learn(self, rewards: np.ndarray, seen: np.ndarray, mass: np.ndarray) -> None:
        scaled = rewards / max(self._pool_sd(), _SD_FLOOR)
        if self.spec.feedback == "bandit":
            scaled = np.where(seen, scaled / np.maximum(self._probs, 1e-12), 0.0)
        self.gain = self.gain * self.spec.discount + np.where(seen, scaled, 0.0)

    def _scores(self, probs: np.ndarray) -> np.ndarray:
        return self.spec.exp3_eta * self.gain

    def _target(self, scores: np.ndarray) -> np.ndarray:
        k = len(self.agents)
        gamma = self.spec.exp3_gamma
        self._probs = (1.0 - gamma) * softmax(scores) + gamma / k
        return self._probs

    def _pull(self, scores: np.ndarray, target: np.ndarray) -> int:
        return int(self.rng.choice(len(self.agents), p=target))


class ContextualSelector(UCB1Selector):
    """Regime-conditioned UCB: separate statistics per regime label.

    Each reward updates every regime's statistics weighted by the filtered probability of
    that regime (a regime is forgotten only in proportion to its own probability mass).
    The score is the probability-weighted mix of the per-regime UCB scores under the
    current filtered probabilities. Without a context it behaves like :class:`UCB1Selector`.
    """

    kind = "contextual"
    score_label = "UCB"
    n_contexts = len(LABELS)

    def _context(self, context: np.ndarray | None) -> np.ndarray:
        if context is None:
            return np.full(self.n_contexts, 1.0 / self.n_contexts)
        p = np.asarray(context, dtype=np.float64)
        if p.shape != (self.n_contexts,):
            raise ValueError(f"context must hold {self.n_contexts} regime probabilities")
        total = p.sum()
        if not (math.isfinite(total) and total > 0):
            raise ValueError(f"context must be finite, non-negative probabilities, got {p}")
        normalized: np.ndarray = p / total
        return normalized

    def _scores(self, probs: np.ndarray) -> np.ndarray:
        per_regime = self._ucb(slice(None))  # (C, K)
        per_regime = np.where(np.isinf(per_regime), 0.0, per_regime)
        scores: np.ndarray = probs @ per_regime
        return scores


SELECTOR_CLASSES: dict[str, type[Selector]] = {
    "ucb": UCB1Selector,
    "thompson": ThompsonSelector,
    "exp3": EXP3Selector,
    "contextual": ContextualSelector,
}


def make_selector(
    kind: str, agents: Sequence[str], spec: SelectorSpec | None = None, *, seed: int = 0
) -> Selector:
    """Build a selector by name (``"ucb"``, ``"thompson"``, ``"exp3"``, ``"contextual"``)."""
    if kind not in SELECTOR_CLASSES:
        raise ValueError(f"unknown selector {kind!r}; choose one of {sorted(SELECTOR_CLASSES)}")
    return SELECTOR_CLASSES[kind](agents, spec, seed=seed)


@dataclass(frozen=True, kw_only=True)
class OnlineRun:
    """Result of :func:`run_online`: one row per decision close."""

    weights: np.ndarray
    chosen: np.ndarray
    pulled: np.ndarray
    scores: np.ndarray
    explanations: list[str]


def run_online(
    selector: Selector,
    rewards: np.ndarray,
    contexts: np.ndarray | None = None,
    *,
    start: int = 0,
) -> OnlineRun:
    """Drive ``selector`` over bars ``start .. T-1``, causally.

    At close ``t`` it absorbs ``rewards[t]`` (skipped at ``t == start``: the selector
    starts fresh there) with ``contexts[t]``, then decides the weights for bar ``t + 1``
    from ``contexts[t]``. Row ``t - start`` of the result was decided at close ``t``.

    Parameters
    ----------
    selector : Selector
        Used as is (pass a fresh one).
    rewards : ndarray (T, n_agents)
        ``rewards[t]`` is each agent's return of bar t, known at close t.
    contexts : ndarray (T, n_labels), optional
        Filtered regime probabilities known at close t.
    start : int
        First decision close.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    n_bars, k = rewards.shape
    if k != len(selector.agents):
        raise ValueError(f"rewards have {k} columns for {len(selector.agents)} agents")
    rows = n_bars - start
    weights = np.empty((rows, k))
    scores = np.empty((rows, k))
    chosen = np.empty(rows, dtype=np.int64)
    pulled = np.empty(rows, dtype=np.int64)
    explanations: list[str] = []
    for t in range(start, n_bars):
        ctx = None if contexts is None else contexts[t]
        if t > start:
            selector.update(rewards[t], ctx)
        s = selector.step(ctx)
        i = t - start
        weights[i], scores[i], chosen[i], pulled[i] = s.weights, s.scores, s.chosen, s.pulled
        explanations.append(s.explanation)
    return OnlineRun(
        weights=weights, chosen=chosen, pulled=pulled, scores=scores, explanations=explanations
    )
