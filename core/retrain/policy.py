"""Performance-triggered retraining as a pure state machine.

At each new bar :meth:`RetrainController.on_bar` measures the champion's rolling metric on
its recent out-of-sample bars. When it falls below the threshold (with enough samples and
outside the cool-down) a challenger is trained on the bars *before* the comparison window,
so both models are compared out of sample on the same recent bars; the challenger is
promoted only if the comparison says so (by default the A/B primary test, the HAC paired
t-test of :func:`core.abtest.compare`, significant in the challenger's favour). A
promoted model is on probation for ``rollback_window_bars``: if it then underperforms its
predecessor on those bars, the predecessor is restored. Every action is a
:class:`RetrainDecision` with its numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.abtest import MIN_OBS, ZERO_TOL, compare

Metric = Literal["sharpe", "total_return", "hit_rate", "auc"]
DecisionKind = Literal["promoted", "kept", "rolled_back"]


class RetrainPolicy(BaseModel):
    """When to retrain, how to judge a challenger and when to roll back (frozen).

    Parameters
    ----------
    metric : {"sharpe", "total_return", "hit_rate", "auc"}
        Champion health metric on its recent OOS bars: annualized Sharpe, compounded
        return or share of winning bars among the bars in the market (non-zero return)
        of the ``returns`` column; ``auc`` is the ROC
        AUC of ``score`` against ``y_true`` (columns the evaluation must provide).
    threshold : float
        Retrain when the metric falls strictly below this.
    window_bars : int
        Length of the rolling OOS window (bars since training only).
    min_samples : int
        OOS bars needed in the window before the metric is trusted (and the comparison run).
    cooldown_bars : int
        Bars after any triggered decision during which no new trigger fires.
    rollback_window_bars : int
        Probation of a promoted model; it is compared with its predecessor on these bars.
    promote_rule : {"significant", "metric"}
        ``"significant"``: promote only when the A/B primary test (HAC paired t-test of
        daily returns) finds the challenger significantly better; no other test decides.
        ``"metric"``: promote when the challenger's metric beats the champion's by
        ``min_improvement``.
    min_improvement : float
        Margin of the ``"metric"`` rule.
    rollback_margin : float
        Roll back when the promoted model's metric is below its predecessor's by more than
        this over the probation window.
    alpha, n_boot, seed : float, int, int
        Settings of :func:`core.abtest.compare`.
    periods_per_year : float
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric = "sharpe"
    threshold: float = 0.0
    window_bars: int = Field(126, ge=2)
    min_samples: int = Field(63, ge=2)
    cooldown_bars: int = Field(63, ge=0)
    rollback_window_bars: int = Field(63, ge=MIN_OBS)
    promote_rule: Literal["significant", "metric"] = "significant"
    min_improvement: float = Field(0.0, ge=0.0)
    rollback_margin: float = Field(0.0, ge=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=0.5)
    n_boot: int = Field(300, ge=100, le=100_000)
    seed: int = 0
    periods_per_year: float = Field(252.0, gt=0.0)

    @classmethod
    def within_window(cls, **fields: Any) -> RetrainPolicy:
        """A policy whose ``min_samples`` is capped at ``window_bars``: a window shorter
        than the trusted-sample minimum trusts all of its bars.

        >>> RetrainPolicy.within_window(window_bars=40, min_samples=63).min_samples
        40
        >>> RetrainPolicy.within_window(window_bars=126).min_samples
        63
        """
        window = fields.get("window_bars", cls.model_fields["window_bars"].default)
        samples = fields.get("min_samples", cls.model_fields["min_samples"].default)
        return cls(**{**fields, "min_samples": min(samples, window)})

    @model_validator(mode="after")
    def _samples(self) -> RetrainPolicy:
        if self.min_samples > self.window_bars:
            raise ValueError(
                f"min_samples ({self.min_samples}) cannot exceed window_bars ({self.window_bars})"
            )
        if self.promote_rule == "significant" and self.min_samples < MIN_OBS:
            raise ValueError(f"the significance rule needs min_samples >= {MIN_OBS}")
        return self


@dataclass(frozen=True, kw_only=True)
class ModelHandle:
    """A trained model: ``id``, the bar it was trained up to (exclusive) and the payload."""

    id: str
    trained_until: int
    payload: Any = None
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class CompareOutcome:
    """Verdict of a champion-vs-challenger comparison."""

    better: bool
    reason: str
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RetrainDecision:
    """One decision of the policy (the row the store's ``retrain_decisions`` table keeps).

    Attributes
    ----------
    as_of : Any
        Timestamp (or label) of the last bar known when deciding.
    bar : int
        Number of bars known (bars ``0 .. bar - 1``).
    trigger : str
        What fired, with its numbers (``"sharpe -0.41 < 0.00 over 126 OOS bars"``).
    decision : {"promoted", "kept", "rolled_back"}
    champion_id, challenger_id : str or None
        Champion before the decision and the model it was weighed against.
    reason : str
    numbers : dict
    """

    as_of: Any
    bar: int
    trigger: str
    decision: DecisionKind
    champion_id: str | None
    challenger_id: str | None
    reason: str
    numbers: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """Plain dict."""
        return asdict(self)


TrainFn = Callable[[int], ModelHandle]
EvaluateFn = Callable[[ModelHandle, int, int], "pd.Series | pd.DataFrame"]
CompareFn = Callable[["pd.Series", "pd.Series"], CompareOutcome]


def _frame(evaluation: pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(evaluation, pd.Series):
        return evaluation.rename("returns").to_frame()
    if "returns" not in evaluation.columns:
        raise ValueError("an evaluation frame needs a 'returns' column")
    return evaluation


def metric_value(metric: Metric, evaluation: pd.Series | pd.DataFrame, ppy: float = 252.0) -> float:
    """The policy metric of one evaluation (NaN when undefined).

    The hit rate counts only bars in the market (``|r| > 1e-12``): a flat bar is neither
    a win nor a loss, so time in the market is not rewarded.

    >>> round(metric_value("hit_rate", pd.Series([0.01, -0.01, 0.02, 0.0])), 3)
    0.667
    """
    frame = _frame(evaluation)
    r = frame["returns"].to_numpy(dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan
    if metric == "sharpe":
        sd = float(np.std(r, ddof=1)) if r.size > 1 else 0.0
        return float(np.mean(r) / sd * math.sqrt(ppy)) if sd > 0 else math.nan
    if metric == "total_return":
        return float(np.prod(1.0 + r) - 1.0)
    if metric == "hit_rate":
        held = r[np.abs(r) > ZERO_TOL]
        return float(np.mean(held > 0)) if held.size else math.nan
    if metric == "auc":
        if not {"y_true", "score"} <= set(frame.columns):
            raise ValueError("metric 'auc' needs 'y_true' and 'score' columns")
        from sklearn.metrics import roc_auc_score

        sub = frame[["y_true", "score"]].dropna()
        if sub["y_true"].nunique() < 2:
            return math.nan
        return float(roc_auc_score(sub["y_true"], sub["score"]))
    raise ValueError(f"unknown metric {metric!r}")  # pragma: no cover


def abtest_compare_fn(policy: RetrainPolicy) -> CompareFn:
    """Default comparison: the A/B primary test (:data:`core.abtest.PRIMARY_TEST`).

    ``better`` is True only when the primary test, at the policy's ``alpha``, says the
    challenger earns more per day than the champion on the same out-of-sample bars.
    Secondary tests are not run: they never decide a promotion.
    """

    def _compare(champion: pd.Series, challenger: pd.Series) -> CompareOutcome:
        result = compare(
            {"challenger": challenger, "champion": champion},
            alpha=policy.alpha,
            n_boot=policy.n_boot,
            seed=policy.seed,
            periods_per_year=policy.periods_per_year,
            secondary=False,
        )
        (primary,) = result.primary_rows()
        return CompareOutcome(
            better=primary.significant and primary.favours == "challenger",
            reason=f"A/B verdict: {result.verdict}",
            numbers={
                "n_obs": float(result.n_obs),
                "primary_p_value": primary.p_value,
                "primary_p_adjusted": primary.p_adjusted,
                "primary_mean_difference": primary.estimate,
            },
        )

    return _compare


class RetrainController:
    """Champion/challenger state machine (deterministic; data access only via callables).

    Parameters
    ----------
    policy : RetrainPolicy
    train_fn : callable ``(end) -> ModelHandle``
        Train on bars ``0 .. end - 1`` (the recipe may use a trailing window of them).
    evaluate_fn : callable ``(model, start, end) -> Series | DataFrame``
        The model's out-of-sample per-bar results on bars ``start .. end - 1``: a Series
        of returns or a frame with ``returns`` (and ``y_true``, ``score`` for AUC).
    compare_fn : callable ``(champion_returns, challenger_returns) -> CompareOutcome``, optional
        Default: :func:`abtest_compare_fn` for ``promote_rule="significant"``, else the
        metric rule.
    """

    def __init__(
        self,
        *,
        policy: RetrainPolicy,
        train_fn: TrainFn,
        evaluate_fn: EvaluateFn,
        compare_fn: CompareFn | None = None,
    ) -> None:
        self.policy = policy
        self.train_fn = train_fn
        self.evaluate_fn = evaluate_fn
        if compare_fn is None:
            compare_fn = (
                abtest_compare_fn(policy)
                if policy.promote_rule == "significant"
                else self._metric_rule
            )
        self.compare_fn = compare_fn
        self.champion: ModelHandle | None = None
        self.predecessor: ModelHandle | None = None
        self.promoted_at: int | None = None
        self.last_action: int | None = None
        self.decisions: list[RetrainDecision] = []

    # ----- helpers -----------------------------------------------------------------------
    def _metric(self, model: ModelHandle, start: int, end: int) -> tuple[float, pd.DataFrame]:
        frame = _frame(self.evaluate_fn(model, start, end))
        return metric_value(self.policy.metric, frame, self.policy.periods_per_year), frame

    def _metric_rule(self, champion: pd.Series, challenger: pd.Series) -> CompareOutcome:
        p = self.policy
        m_cp = metric_value(p.metric, champion, p.periods_per_year)
        m_ch = metric_value(p.metric, challenger, p.periods_per_year)
        better = math.isfinite(m_ch) and (
            not math.isfinite(m_cp) or m_ch > m_cp + p.min_improvement
        )
        return CompareOutcome(
            better=better,
            reason=(
                f"challenger {p.metric} {m_ch:.3f} vs champion {m_cp:.3f} "
                f"(needs +{p.min_improvement:.3f})"
            ),
            numbers={"champion_metric_rule": m_cp, "challenger_metric_rule": m_ch},
        )

    def _record(self, **kwargs: Any) -> RetrainDecision:
        decision = RetrainDecision(**kwargs)
        self.decisions.append(decision)
        self.last_action = decision.bar
        return decision

    # ----- lifecycle ---------------------------------------------------------------------
    def start(self, end: int, champion: ModelHandle | None = None) -> ModelHandle:
        """Install the first champion (trained on bars before ``end`` unless given)."""
        self.champion = champion or self.train_fn(end)
        return self.champion

    def on_bar(self, t: int, as_of: Any = None) -> RetrainDecision | None:
        """Advance to ``t`` known bars; a decision when one is taken, else None."""
        if self.champion is None:
            raise RuntimeError("call start() before on_bar()")
        p = self.policy
        as_of = t if as_of is None else as_of
        if self.promoted_at is not None:
            if t - self.promoted_at >= p.rollback_window_bars:
                return self._probation_review(t, as_of)
            return None
        if self.last_action is not None and t - self.last_action < p.cooldown_bars:
            return None
        start = max(self.champion.trained_until, t - p.window_bars)
        samples = t - start
        if samples < p.min_samples:
            return None
        value, champion_frame = self._metric(self.champion, start, t)
        if not value < p.threshold:  # NaN never triggers
            return None
        trigger = f"{p.metric} {value:.3f} < {p.threshold:.3f} over {samples} OOS bars"
        challenger = self.train_fn(start)
        _, challenger_frame = self._metric(challenger, start, t)
        ch_value = metric_value(p.metric, challenger_frame, p.periods_per_year)
        outcome = self.compare_fn(champion_frame["returns"], challenger_frame["returns"])
        numbers = {
            "champion_metric": value,
            "challenger_metric": ch_value,
            "threshold": p.threshold,
            "samples": float(samples),
            "window_start": float(start),
            "window_end": float(t),
            **outcome.numbers,
        }
        champion = self.champion
        if outcome.better:
            self.predecessor, self.champion, self.promoted_at = champion, challenger, t
            return self._record(
                as_of=as_of,
                bar=t,
                trigger=trigger,
                decision="promoted",
                champion_id=champion.id,
                challenger_id=challenger.id,
                reason=f"challenger better: {outcome.reason}",
                numbers=numbers,
            )
        return self._record(
            as_of=as_of,
            bar=t,
            trigger=trigger,
            decision="kept",
            champion_id=champion.id,
            challenger_id=challenger.id,
            reason=f"challenger not better, champion kept: {outcome.reason}",
            numbers=numbers,
        )

    def _probation_review(self, t: int, as_of: Any) -> RetrainDecision:
        p = self.policy
        assert self.champion is not None and self.predecessor is not None
        assert self.promoted_at is not None
        start = self.promoted_at
        new_value, _ = self._metric(self.champion, start, t)
        old_value, _ = self._metric(self.predecessor, start, t)
        numbers = {
            "promoted_metric": new_value,
            "predecessor_metric": old_value,
            "rollback_margin": p.rollback_margin,
            "window_start": float(start),
            "window_end": float(t),
        }
        promoted, predecessor = self.champion, self.predecessor
        self.promoted_at = None
        self.predecessor = None
        trigger = f"probation review after {t - start} bars"
        worse = math.isfinite(new_value) and math.isfinite(old_value)
        worse = worse and new_value < old_value - p.rollback_margin
        if worse or (not math.isfinite(new_value) and math.isfinite(old_value)):
            self.champion = predecessor
            return self._record(
                as_of=as_of,
                bar=t,
                trigger=trigger,
                decision="rolled_back",
                champion_id=promoted.id,
                challenger_id=predecessor.id,
                reason=(
                    f"promoted {promoted.id} {p.metric} {new_value:.3f} < predecessor "
                    f"{predecessor.id} {old_value:.3f} - margin {p.rollback_margin:.3f}: "
                    "predecessor restored"
                ),
                numbers=numbers,
            )
        return self._record(
            as_of=as_of,
            bar=t,
            trigger=trigger,
            decision="kept",
            champion_id=promoted.id,
            challenger_id=predecessor.id,
            reason=(
                f"promoted {promoted.id} held up: {p.metric} {new_value:.3f} vs predecessor "
                f"{old_value:.3f}"
            ),
            numbers=numbers,
        )
