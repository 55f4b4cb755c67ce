"""``workbench`` commands: probabilistic regimes: fit and evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import JSON_OPT, SEED_OPT, _call, emit, fail

regime_app = typer.Typer(help="Fit and evaluate probabilistic regimes.", no_args_is_help=True)
app.add_typer(regime_app, name="regime")


@regime_app.command("eval")
def regime_eval(
    synthetic: bool = typer.Option(True, "--synthetic/--no-synthetic", help="Synthetic data."),
    seed: int = typer.Option(
        1, "--seed", help="Generator seed.", parser=opt.number(0, 2**32 - 1, integer=True)
    ),
    method: str = typer.Option("hmm", "--method", help="hmm or dpgmm."),
    bars: int = typer.Option(5000, "--bars", help="Series length (300..100000)."),
    history: str = typer.Option(
        "expanding", "--history", help="expanding or rolling (causal), or in-sample."
    ),
    refit_every: int = typer.Option(21, "--refit-every", help="Bars between refits (1..2520)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Detector accuracy and lag against the Bayes-optimal oracle on synthetic data."""
    from app.services import regimes

    if not synthetic:
        fail(
            "only --synthetic evaluation has ground truth; use `regime fit` on real data",
            as_json=as_json,
        )
    if method not in ("hmm", "dpgmm"):
        fail(f"--method {method!r} must be hmm or dpgmm", as_json=as_json)
    if not 300 <= bars <= 100_000:
        fail(
            f"--bars {bars} is out of range: give 300..100000 bars (the causal history's "
            "first fit uses 252 bars and at least 48 more are scored)",
            as_json=as_json,
        )
    spec = _regime_history(history, refit_every, as_json)
    report = _call(as_json, regimes.evaluate, seed=seed, method=method, bars=bars, history=spec)
    r = report
    text = (
        f"{method} seed {seed}, {bars} bars ({r['scored_bars']} scored)\n"
        f"  history: {r['history']}\n"
        f"  filtered accuracy {r['accuracy']:.3f}   oracle {r['oracle_accuracy']:.3f}\n"
        f"  smoothed accuracy {r['smoothed_accuracy']:.3f}   oracle "
        f"{r['oracle_smoothed_accuracy']:.3f} (hindsight, not tradable)\n"
        f"  median lag {r['median_detection_lag_bars']} bars   oracle {r['oracle_median_lag_bars']}"
    )
    emit(report, as_json=as_json, text=text)


@regime_app.command("fit")
def regime_fit(
    out: Path = typer.Option(
        ...,
        "--out",
        help="CSV to write: filtered probabilities, label.",
        parser=opt.output_file(),
    ),
    dataset: str | None = typer.Option(None, "--dataset", help="Dataset name.", parser=opt.text()),
    symbol: str | None = typer.Option(
        None, "--symbol", help="Symbol in the dataset.", parser=opt.text()
    ),
    file: Path | None = typer.Option(
        None, "--file", help="CSV/Parquet with date and close.", parser=opt.input_file()
    ),
    method: str = typer.Option(
        "hmm", "--method", help="hmm or dpgmm.", parser=opt.choice(("hmm", "dpgmm"))
    ),
    seed: int = SEED_OPT,
    history: str = typer.Option(
        "expanding",
        "--history",
        help="expanding or rolling: causal refits (default); in-sample: one whole-series "
        "fit that sees the future.",
    ),
    refit_every: int = typer.Option(21, "--refit-every", help="Bars between refits (1..2520)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Build the regime history and write the filtered probabilities and label of every bar.

    Causal by default: bar t is filtered with parameters estimated on earlier bars only.
    """
    from app.services import regimes

    if method not in ("hmm", "dpgmm"):
        fail(f"--method {method!r} must be hmm or dpgmm", as_json=as_json)
    if (file is None) == (dataset is None or symbol is None):
        fail("give either --file F.csv or both --dataset D and --symbol S", as_json=as_json)
    spec = _regime_history(history, refit_every, as_json)
    if file is not None:
        if not file.is_file():
            fail(f"file not found: {file}", as_json=as_json)
        outcome = _call(
            as_json, regimes.fit_file, path=file, method=method, seed=seed, history=spec
        )
    else:
        outcome = _call(
            as_json,
            regimes.fit_dataset,
            dataset=dataset,
            symbol=symbol,
            method=method,
            seed=seed,
            history=spec,
        )
    frame = regimes.filtered_frame(outcome)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index_label="date")
    label, confidence, when = outcome.current
    result = outcome.result
    payload = {
        "out": str(out),
        "bars": len(frame),
        "method": result.method,
        "current": {"date": when.date().isoformat(), "label": label, "confidence": confidence},
        "label_counts": frame["label"].value_counts().to_dict(),
        "transition": result.transition.round(6).to_dict(),
        "warnings": result.warnings,
        "history_mode": result.history_mode,
        "history": result.history,
        "refit_every": None if result.history_mode == "in-sample" else spec.refit_every,
        "first_bar_with_probabilities": result.first_bar,
        "probabilities": (
            "forward-filtered; IN-SAMPLE parameters (they saw later bars)"
            if result.history_mode == "in-sample"
            else "forward-filtered with parameters estimated on earlier bars only (causal)"
        )
        + "; no smoothed values are written",
    }
    emit(
        payload,
        as_json=as_json,
        text=f"wrote {len(frame)} bars to {out}; current regime {label} ({confidence:.0%})\n"
        f"history: {result.history}",
    )


def _regime_history(mode: str, refit_every: int, as_json: bool) -> Any:
    """The regime history spec of ``--history`` / ``--refit-every``, or exit 2."""
    from app.services import regimes

    if mode not in regimes.MODES:
        fail(f"--history {mode!r} must be one of {', '.join(regimes.MODES)}", as_json=as_json)
    if not 1 <= refit_every <= 2520:
        fail(f"--refit-every {refit_every} must be between 1 and 2520 bars", as_json=as_json)
    return regimes.history_spec(mode, refit_every)  # type: ignore[arg-type]
