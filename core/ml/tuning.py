"""Hyper-parameter search with Optuna: seeded TPE, purged-CV ROC-AUC objective, median
pruning on the running per-fold score.

The folds are split once per search. XGBoost trials train with the native
``xgboost.train`` on each fold's ``QuantileDMatrix``, built on the fold's first use and
reused by every later trial (the scikit-learn wrapper would rebuild it for every fit);
the model and its predictions are the ones ``XGBClassifier.fit`` gives.

Parallelism: trials run in batches of :data:`TRIAL_BATCH`, asked and told by this process
(ask-and-tell) and scored as chunks of :func:`core.cluster.map_chunks` on Dask workers
(or here, serially). The sampler is seeded per batch and sees only the trials told
before the batch, and the pruning rule uses the same ones, so with the same seed and
batch size a search returns the same trials, values and best parameters on any executor
and any number of workers, and a resumed study (RDB storage) continues as if it had
never stopped. Every fit is single-threaded (``n_jobs=1`` models, native pools limited
to one thread); serially, ``n_jobs`` threads may score a trial's folds at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import roc_auc_score

from core.cluster import map_chunks
from core.ml.cv import PurgedKFold
from core.ml.dataset import MLDataset
from core.ml.models import ModelSpec, build_model, fit_model, search_space

TrialCallback = Callable[[int, float], None]
SearchSpace = Callable[[Any], dict[str, Any]]

PRUNER_STARTUP_TRIALS = 5
"""Completed trials before the median pruner may stop a trial."""
PRUNER_WARMUP_FOLDS = 1
"""Folds scored before a trial may be pruned (the check starts after the second fold)."""
TRIAL_BATCH = 5
"""Trials asked (and scored in parallel) at a time: fixed, whatever the number of workers.
Five, as in a serial search: the pruner starts after the first batch (five completed
trials) and TPE, random for its first ten trials, guides the last ten of twenty."""
SINGLE_THREAD_KINDS = frozenset({"xgboost", "random_forest"})
"""Models whose ``n_jobs`` a trial sets to 1 (their predictions do not depend on it)."""
BATCH_ATTR = "workbench_batch"
"""Trial user attribute: the number of the first trial of its batch (for a resume)."""


class TuneResult(BaseModel):
    """Outcome of :func:`tune` (frozen).

    ``n_trials`` counts every configuration the study tried, completed or pruned
    (including earlier runs resumed from ``storage``): the trial count of the deflated
    Sharpe. ``n_pruned`` of them were stopped early by the median pruner;
    ``trial_values`` holds the completed trials' CV AUCs in trial order.
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    study_name: str
    trial_values: tuple[float, ...]
    seconds: float
    n_pruned: int = 0


@dataclass
class CVFold:
    """One purged CV fold; ``matrices`` caches its XGBoost training matrices."""

    step: int
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    matrices: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (sent to a Dask worker) without the matrices, rebuilt where used."""
        state = dict(self.__dict__)
        state["matrices"] = {}
        return state

    def quantile_matrix(self, max_bin: int | None, nthread: int | None) -> Any:
        """The fold's ``QuantileDMatrix`` with these settings (built once)."""
        key = (max_bin, nthread)
        matrix = self.matrices.get(key)
        if matrix is None:
            from xgboost import QuantileDMatrix

            # from the values: without feature names, Booster.update skips copying and
            # checking 44 names on every boosting round (17% of the fit time)
            matrix = QuantileDMatrix(
                self.X_train.to_numpy(), label=self.y_train, nthread=nthread, max_bin=max_bin
            )
            self.matrices[key] = matrix
        return matrix


def cv_folds(dataset: MLDataset, *, n_splits: int = 5, embargo_pct: float = 0.01) -> list[CVFold]:
    """The :class:`PurgedKFold` folds of ``dataset`` with two classes on both sides."""
    y = dataset.y.to_numpy()
    folds = []
    splitter = PurgedKFold(n_splits=n_splits, embargo_pct=embargo_pct)
    for step, (train, test) in enumerate(splitter.split(dataset.t1)):
        if np.unique(y[train]).size < 2 or np.unique(y[test]).size < 2:
            continue
        folds.append(CVFold(step, dataset.X.iloc[train], y[train], dataset.X.iloc[test], y[test]))
    return folds


def _reuses_matrix(est: Any) -> bool:
    """Whether ``XGBClassifier.fit`` would train ``est`` on a CPU ``QuantileDMatrix``."""
    return (
        est.tree_method in (None, "hist", "auto")
        and est.device in (None, "cpu")
        and est.booster in (None, "gbtree", "dart")
        and est.early_stopping_rounds is None
        and not est.callbacks
    )


def fold_proba(spec: ModelSpec, fold: CVFold) -> np.ndarray:
    """Up-probabilities on the fold's test rows of ``spec`` fitted on its training rows.

    XGBoost trains natively on the fold's cached ``QuantileDMatrix`` with the parameters
    ``XGBClassifier`` would pass (same booster, same predictions); other models are
    fitted with :func:`core.ml.models.fit_model`.
    """
    if spec.kind == "xgboost":
        est = build_model(spec, fold.y_train).named_steps["model"]
        if _reuses_matrix(est):
            import xgboost as xgb

            booster = xgb.train(
                est.get_xgb_params(),
                fold.quantile_matrix(est.max_bin, est.n_jobs),
                num_boost_round=est.get_num_boosting_rounds(),
            )
            proba: np.ndarray = booster.inplace_predict(fold.X_test.to_numpy())
            return proba
    model = fit_model(spec, fold.X_train, fold.y_train)
    out: np.ndarray = model.predict_proba(fold.X_test)[:, 1]
    return out


def fold_auc(spec: ModelSpec, fold: CVFold) -> float:
    """ROC-AUC of :func:`fold_proba` on the fold's test labels."""
    return float(roc_auc_score(fold.y_test, fold_proba(spec, fold)))


def _chunks(folds: Sequence[CVFold], size: int) -> Iterator[Sequence[CVFold]]:
    for lo in range(0, len(folds), size):
        yield folds[lo : lo + size]


def _scores(
    spec: ModelSpec, folds: Sequence[CVFold], pool: ThreadPoolExecutor | None, jobs: int
) -> Iterator[tuple[CVFold, float]]:
    """``(fold, auc)`` in fold order, ``jobs`` folds scored at a time."""
    for chunk in _chunks(folds, jobs):
        if pool is None or len(chunk) == 1:
            values = [fold_auc(spec, f) for f in chunk]
        else:
            values = list(pool.map(lambda f: fold_auc(spec, f), chunk))
        yield from zip(chunk, values, strict=True)


def cv_auc(
    dataset: MLDataset,
    spec: ModelSpec,
    *,
    n_splits: int = 5,
    embargo_pct: float = 0.01,
) -> float:
    """Mean ROC-AUC of ``spec`` over :class:`PurgedKFold` folds (single-class folds skipped)."""
    scores = [
        fold_auc(spec, f) for f in cv_folds(dataset, n_splits=n_splits, embargo_pct=embargo_pct)
    ]
    return float(np.mean(scores)) if scores else 0.5


def default_jobs() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextmanager
def _pool(jobs: int) -> Iterator[ThreadPoolExecutor | None]:
    if jobs <= 1:
        yield None
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cv-fold") as pool:
        yield pool


def study_storage(url: str | None) -> Any:
    """Optuna's RDB storage on ``url`` (None: in memory).

    SQLite waits up to 30 s for a lock (the jobs worker writes to the same file);
    PostgreSQL connections are checked before use.
    """
    if url is None:
        return None
    import optuna

    kwargs: dict[str, Any] = (
        {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    )
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def batch_seed(seed: int, finished: int) -> int:
    """Seed of the sampler that asks the batch starting after ``finished`` trials.

    A fresh sampler per batch, seeded by the search seed and the trials already
    finished, samples the same parameters in an uninterrupted run and in a resumed one.
    """
    return int(np.random.SeedSequence([seed, finished]).generate_state(1)[0])


def prune_thresholds(trials: Sequence[Any]) -> dict[int, float] | None:
    """Median running CV AUC of the completed ``trials`` at every fold step, or None
    (no pruning) before :data:`PRUNER_STARTUP_TRIALS` completed trials.

    The rule of :class:`optuna.pruners.MedianPruner` (``n_warmup_steps`` =
    :data:`PRUNER_WARMUP_FOLDS`), applied with the completed trials known when a batch
    is asked, so every trial of a batch meets the same thresholds wherever it runs.
    """
    if len(trials) < PRUNER_STARTUP_TRIALS:
        return None
    steps = sorted({step for t in trials for step in t.intermediate_values})
    return {
        step: float(
            np.nanpercentile(
                np.array(
                    [t.intermediate_values[step] for t in trials if step in t.intermediate_values],
                    dtype=float,
                ),
                50,
            )
        )
        for step in steps
    }


_FOLDS_MEMO: dict[str, Sequence[CVFold]] = {}
"""The folds of the latest search in this process (a Dask worker), by :func:`folds_key`:
the ones re-sent with each batch are replaced by those whose matrices are built."""


def folds_key(dataset: MLDataset, n_splits: int, embargo_pct: float) -> str:
    """sha256 of the dataset's values and the CV settings (the folds' identity)."""
    digest = hashlib.sha256(f"{n_splits}|{embargo_pct!r}|".encode())
    for part in (dataset.X, dataset.y, dataset.t1):
        digest.update(pd.util.hash_pandas_object(part).to_numpy().tobytes())
    digest.update(",".join(map(str, dataset.X.columns)).encode())
    return digest.hexdigest()


def _memo(key: str | None, folds: Sequence[CVFold]) -> Sequence[CVFold]:
    if key is None:
        return folds
    if key not in _FOLDS_MEMO:
        _FOLDS_MEMO.clear()
        _FOLDS_MEMO[key] = folds
    return _FOLDS_MEMO[key]


def install_folds(folds_id: str, folds: Sequence[CVFold]) -> None:
    """Make ``folds`` this process's folds of search ``folds_id`` (a worker plugin's job)."""
    _FOLDS_MEMO.clear()
    _FOLDS_MEMO[folds_id] = folds


def trial_chunk(chunk: tuple[int, dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """:func:`trial_scores` of ``(number, params, settings)`` on the folds installed on
    this worker (:mod:`core.ml._dask_folds`): a chunk with no scattered dependency."""
    number, params, settings = chunk
    return trial_scores((number, params), folds=None, **settings)


def trial_scores(
    chunk: tuple[int, dict[str, Any]],
    *,
    folds: Sequence[CVFold] | None,
    kind: str,
    seed: int,
    thresholds: dict[int, float] | None,
    n_jobs: int = 1,
    folds_id: str | None = None,
) -> dict[str, Any]:
    """Score one trial's parameters on the CV folds (a chunk of
    :func:`core.cluster.map_chunks`, run on a Dask worker or in this process).

    Returns the trial ``number``, the running mean AUC after each fold as ``steps``
    (``(fold step, mean)``), the final ``value`` and whether the median rule
    (:func:`prune_thresholds`) ``pruned`` it. Native thread pools are limited to one
    thread; ``n_jobs`` threads score folds at the same time. With ``folds_id``
    (:func:`folds_key`), a worker keeps the folds (and their XGBoost matrices) of the
    first batch it scored for the later ones.
    """
    from threadpoolctl import threadpool_limits

    if folds is None:
        if folds_id not in _FOLDS_MEMO:
            raise RuntimeError(f"the folds of search {folds_id} are not installed here")
        folds = _FOLDS_MEMO[folds_id]
    folds = _memo(folds_id, folds)
    number, params = chunk
    if kind in SINGLE_THREAD_KINDS:  # one thread per worker, whatever was fixed
        params = {**params, "n_jobs": 1}
    spec = ModelSpec(kind=kind, params=params, seed=seed)
    steps: list[tuple[int, float]] = []
    scores: list[float] = []
    best = -np.inf
    jobs = max(1, min(n_jobs, len(folds) or 1))
    with threadpool_limits(limits=1), _pool(jobs) as pool:
        for fold, value in _scores(spec, folds, pool, jobs):
            scores.append(value)
            mean = float(np.mean(scores))
            steps.append((fold.step, mean))
            best = max(best, mean)
            limit = None if thresholds is None else thresholds.get(fold.step)
            if fold.step >= PRUNER_WARMUP_FOLDS and limit is not None and best < limit:
                return {"number": number, "steps": steps, "value": mean, "pruned": True}
    value = float(np.mean(scores)) if scores else 0.5
    return {"number": number, "steps": steps, "value": value, "pruned": False}


def tune(
    dataset: MLDataset,
    kind: str,
    *,
    n_trials: int = 20,
    seed: int = 0,
    storage: str | None = None,
    study_name: str | None = None,
    callback: TrialCallback | None = None,
    n_splits: int = 5,
    embargo_pct: float = 0.01,
    fixed_params: dict[str, Any] | None = None,
    timeout: float | None = None,
    n_jobs: int | None = None,
    prune: bool = True,
    space: SearchSpace | None = None,
    executor: str = "serial",
    batch_size: int = TRIAL_BATCH,
    resume: bool = False,
    cancel: Callable[[], None] | None = None,
) -> TuneResult:
    """Search :func:`core.ml.models.search_space` of ``kind`` to maximize purged-CV AUC.

    Ask and tell in batches: this process asks ``batch_size`` trials of the study (a
    sampler seeded by :func:`batch_seed`), scores them as chunks of
    :func:`core.cluster.map_chunks` (:func:`trial_scores`, on Dask or here), and tells
    their values in trial order. The batch size, not the number of workers, fixes what
    the sampler sees, so every executor and worker count gives the same trials, values
    and best parameters.

    Parameters
    ----------
    dataset : MLDataset
        Training rows only (keep the test period out).
    kind : str
        ``"logistic"``, ``"random_forest"`` or ``"xgboost"``.
    n_trials : int
        Trials to run now; with ``resume``, the trials the study must hold when done
        (those already finished in ``storage`` count).
    seed : int
        Seeds the TPE sampler and every model.
    storage : str, optional
        SQLAlchemy URL for Optuna's RDB storage (e.g. the workbench database); an
        existing study of the same name is resumed: finished trials are kept, trials
        asked but never told (an interrupted run) are scored again with their
        parameters. None keeps the study in memory.
    study_name : str, optional
        Defaults to ``"{kind}-seed{seed}"``.
    callback : callable, optional
        ``callback(trial_number, value)`` after each completed (not pruned) trial.
    n_splits, embargo_pct : int, float
        :class:`PurgedKFold` settings of the objective.
    fixed_params : dict, optional
        Parameters held constant (merged under the sampled ones).
    timeout : float, optional
        Stop asking new batches after this many seconds.
    n_jobs : int, optional
        Serial executor: folds of one trial scored at the same time, one thread each
        (None for every core). On Dask each worker scores one fold at a time. The
        result does not depend on it.
    prune : bool
        Stop a trial whose best running mean fold AUC falls below the median of the
        completed trials' at the same fold (:func:`prune_thresholds`: after
        :data:`PRUNER_STARTUP_TRIALS` completed trials and :data:`PRUNER_WARMUP_FOLDS`
        folds; the completed trials are those told before the trial's batch).
    space : callable, optional
        ``space(trial) -> params`` instead of :func:`~core.ml.models.search_space`.
    executor : {"serial", "dask"}
        Where the trials of a batch run.
    batch_size : int
        Trials asked at a time (:data:`TRIAL_BATCH`); part of the result's identity.
    resume : bool
        ``n_trials`` is the study's total instead of the trials to add.
    cancel : callable, optional
        Called before each batch and between trials; it raises to stop (the trials
        told so far stay in ``storage``).
    """
    import optuna

    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_name = study_name or f"{kind}-seed{seed}"
    start = time.perf_counter()
    states = optuna.trial.TrialState
    study = optuna.create_study(
        storage=study_storage(storage),
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner(),
        study_name=study_name,
        direction="maximize",
        load_if_exists=True,
    )
    fixed = dict(fixed_params or {})
    sample = space or (lambda trial: search_space(kind, trial))
    folds = cv_folds(dataset, n_splits=n_splits, embargo_pct=embargo_pct)
    folds_id = folds_key(dataset, n_splits, embargo_pct)
    jobs = 1 if executor == "dask" else (default_jobs() if n_jobs is None else n_jobs)

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.PRUNED)))

    target = n_trials if resume else finished() + n_trials
    # trials asked but never told (an interrupted run), with the batch they belong to
    leftover = [
        (int(t.user_attrs.get(BATCH_ATTR, t.number)), optuna.trial.Trial(study, t._trial_id))
        for t in study.get_trials(deepcopy=False, states=(states.RUNNING,))
    ]
    placement: Any = contextlib.nullcontext()
    if executor == "dask":
        from core.ml._dask_folds import folds_on_workers

        placement = folds_on_workers(folds_id, folds, install_folds)
    with placement:
        while True:
            done = finished()
            if done >= target or (timeout is not None and time.perf_counter() - start > timeout):
                break
            if cancel is not None:
                cancel()
            if leftover:
                first = min(b for b, _ in leftover)
                batch = [t for b, t in leftover if b == first][: target - done]
                leftover = [(b, t) for b, t in leftover if b != first]
            else:
                study.sampler = optuna.samplers.TPESampler(seed=batch_seed(seed, done))
                batch = [study.ask() for _ in range(min(batch_size, target - done))]
                first = batch[0].number
                for trial in batch:
                    trial.set_user_attr(BATCH_ATTR, first)
            chunks = [(t.number, {**fixed, **sample(t)}) for t in batch]
            # longest first (workers pick chunks in order): a batch ends with short trials
            chunks.sort(key=lambda c: -_cost(c[1]))
            # the pruning rule sees the trials completed before the batch was asked
            complete = [
                t
                for t in study.get_trials(deepcopy=False, states=(states.COMPLETE,))
                if t.number < first
            ]
            settings = {
                "kind": kind,
                "seed": seed,
                "thresholds": prune_thresholds(complete) if prune else None,
                "n_jobs": jobs,
                "folds_id": folds_id,
            }
            _score_batch(study, batch, chunks, settings, folds, executor, cancel, callback)
    complete = [t for t in study.trials if t.state == states.COMPLETE]
    pruned = sum(t.state == states.PRUNED for t in study.trials)
    return TuneResult(
        kind=kind,
        best_params={**fixed, **study.best_params},
        best_value=float(study.best_value),
        n_trials=len(complete) + pruned,
        study_name=study_name,
        trial_values=tuple(float(t.value) for t in complete if t.value is not None),
        seconds=time.perf_counter() - start,
        n_pruned=pruned,
    )


def _cost(params: dict[str, Any]) -> float:
    """Relative cost of a trial's fits (boosting rounds or trees times depth)."""
    return float(params.get("n_estimators", 1)) * float(params.get("max_depth") or 8)


def _score_batch(
    study: Any,
    batch: Sequence[Any],
    chunks: Sequence[tuple[int, dict[str, Any]]],
    settings: dict[str, Any],
    folds: Sequence[CVFold],
    executor: str,
    cancel: Callable[[], None] | None,
    callback: TrialCallback | None,
) -> None:
    """Score a batch of asked trials and tell each one, in trial order, once it and
    every earlier trial of the batch have arrived."""
    by_number = {t.number: t for t in batch}
    order = [t.number for t in batch]
    arrived: dict[int, dict[str, Any]] = {}

    def reduce(_index: int, outcome: dict[str, Any]) -> None:
        arrived[outcome["number"]] = outcome
        while order and order[0] in arrived:
            _tell(study, by_number[order[0]], arrived.pop(order.pop(0)), callback)

    if executor == "dask":  # the folds are on the workers already
        tasks = [(number, params, settings) for number, params in chunks]
        map_chunks(trial_chunk, tasks, reduce=reduce, check=cancel, executor=executor)
        return
    shared = {"folds": folds, **settings}
    map_chunks(trial_scores, chunks, shared=shared, reduce=reduce, check=cancel, executor=executor)


def _tell(study: Any, trial: Any, outcome: dict[str, Any], callback: TrialCallback | None) -> None:
    """Report a scored trial's running means and tell its value (or that it was pruned)."""
    import optuna

    for step, mean in outcome["steps"]:
        trial.report(mean, step=step)
    if outcome["pruned"]:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return
    study.tell(trial, outcome["value"])
    if callback is not None:
        callback(trial.number, float(outcome["value"]))


__all__ = [
    "PRUNER_STARTUP_TRIALS",
    "PRUNER_WARMUP_FOLDS",
    "TRIAL_BATCH",
    "CVFold",
    "SearchSpace",
    "TrialCallback",
    "TuneResult",
    "batch_seed",
    "cv_auc",
    "cv_folds",
    "default_jobs",
    "fold_auc",
    "fold_proba",
    "folds_key",
    "install_folds",
    "prune_thresholds",
    "study_storage",
    "trial_chunk",
    "trial_scores",
    "tune",
]
