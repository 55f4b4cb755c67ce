"""``workbench``: the command line over the same services as the pages."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from app import cli_options as opt
from app.services import data as data_service
from app.services.params import parse_value
from core.serialize import json_safe

app = typer.Typer(
    help="Trading Research Workbench command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="List, validate and import datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

EXIT_BAD_INPUT = 2
EXIT_FORBIDDEN = 3
EXIT_BUSY = 4  # another process holds the resource (e.g. a paper session's worker lease)


def emit(payload: Any, *, as_json: bool, text: str | None = None) -> None:
    """Print JSON (machine) or a short text (human)."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(text if text is not None else json.dumps(payload, indent=2, default=str))


def fail(
    message: str,
    *,
    as_json: bool,
    defects: list[dict[str, Any]] | None = None,
    code: int = EXIT_BAD_INPUT,
) -> None:
    """Report bad input (exit 2) or a refused permission (exit 3)."""
    payload: dict[str, Any] = {"error": message}
    if defects is not None:
        payload["defects"] = defects
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=str))
    else:
        typer.echo(f"error: {message}", err=True)
        for defect in defects or []:
            typer.echo(f"  - [{defect['code']}] {defect['message']}", err=True)
    raise typer.Exit(code)


def _read(path: Path, as_json: bool) -> bytes:
    if not path.is_file():
        fail(f"file not found: {path}; check the path", as_json=as_json)
    return path.read_bytes()


@data_app.command("list")
def data_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List datasets, their symbols, date ranges and columns."""
    infos = data_service.list_datasets()
    payload = {"datasets": [info.as_dict() for info in infos]}
    payload["symbol_count"] = sum(len(info.symbols) for info in infos)
    lines = []
    for info in infos:
        lines.append(f"{info.name}: {info.description} [{info.license}]")
        for s in info.symbols:
            lines.append(
                f"  {s.symbol:<10} {s.start} .. {s.end}  {s.rows:>6} bars  {','.join(s.columns)}"
            )
    emit(payload, as_json=as_json, text="\n".join(lines))


DATE_FORMAT_OPT = typer.Option(
    None,
    "--date-format",
    help="Date format: iso (default) or a strftime pattern, e.g. %d/%m/%Y or %m/%d/%Y.",
)
DECIMAL_OPT = typer.Option(None, "--decimal", help="Decimal separator: '.' (default) or ','.")
THOUSANDS_OPT = typer.Option(
    None, "--thousands", help="Thousands separator: none (default), ',', '.', space or \"'\"."
)
DELIMITER_OPT = typer.Option(
    None, "--delimiter", help="CSV delimiter: auto (from the header, default), ',', ';', tab, '|'."
)
TIMEZONE_OPT = typer.Option(
    None, "--timezone", help="Exchange time zone for timestamps with UTC offsets, e.g. Asia/Tokyo."
)


def _format(as_json: bool, **options: str | None) -> Any:
    """The declared read format; bad flags exit 2 naming the flag."""
    try:
        return data_service.read_format(**options)
    except data_service.DataValidationError as exc:
        fail(
            "; ".join(d.message for d in exc.defects),
            as_json=as_json,
            defects=[d.as_dict() for d in exc.defects],
        )


@data_app.command("validate")
def data_validate(
    file: Path = typer.Argument(..., help="CSV or Parquet file."),
    date_format: str | None = DATE_FORMAT_OPT,
    decimal: str | None = DECIMAL_OPT,
    thousands: str | None = THOUSANDS_OPT,
    delimiter: str | None = DELIMITER_OPT,
    timezone: str | None = TIMEZONE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate a price file; exit 2 and list every defect if it is invalid."""
    fmt = _format(
        as_json,
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
        delimiter=delimiter,
        timezone=timezone,
    )
    payload = _read(file, as_json)
    try:
        validated = data_service.validate_file(file.name, payload, fmt)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
        return
    frame = validated.frame
    summary = {
        "valid": True,
        "file": str(file),
        "rows": len(frame),
        "start": frame.index[0].date().isoformat(),
        "end": frame.index[-1].date().isoformat(),
        "columns": list(frame.columns),
        "warnings": validated.warnings,
    }
    emit(
        summary,
        as_json=as_json,
        text=f"valid: {summary['rows']} rows {summary['start']}..{summary['end']} "
        f"columns {summary['columns']}" + "".join(f"\nwarning: {w}" for w in validated.warnings),
    )


@data_app.command("import")
def data_import(
    file: Path = typer.Argument(..., help="CSV or Parquet file."),
    name: str = typer.Option(..., "--name", help="Name of the new dataset symbol."),
    date_format: str | None = DATE_FORMAT_OPT,
    decimal: str | None = DECIMAL_OPT,
    thousands: str | None = THOUSANDS_OPT,
    delimiter: str | None = DELIMITER_OPT,
    timezone: str | None = TIMEZONE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Validate and store a file as ``uploads/NAME``; nothing is stored if it is invalid."""
    fmt = _format(
        as_json,
        date_format=date_format,
        decimal=decimal,
        thousands=thousands,
        delimiter=delimiter,
        timezone=timezone,
    )
    try:
        data_service.check_name(name, file.name)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
    payload = _read(file, as_json)
    try:
        result = data_service.import_upload(name, file.name, payload, fmt)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
        return
    out = {
        "imported": result.name,
        "dataset": data_service.UPLOADS,
        "rows": result.rows,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "columns": list(result.columns),
        "warnings": result.warnings,
    }
    emit(out, as_json=as_json, text=f"imported {result.rows} rows as uploads/{result.name}")


def _params(pairs: list[str], as_json: bool, flag: str = "--param") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair or not pair.split("=", 1)[0].strip():
            fail(f"{flag} {pair!r} must look like name=value, e.g. fast=20", as_json=as_json)
        key, value = pair.split("=", 1)
        try:
            out[key.strip()] = parse_value(value.strip())
        except ValueError as exc:
            fail(f"{flag} {pair!r}: {exc}", as_json=as_json)
    return out


def _strategy_params(strategy: str | None, pairs: list[str], as_json: bool) -> dict[str, Any]:
    """``--param`` values checked against the strategy's declared types and ranges."""
    from core.strategies import STRATEGIES, validate_params
    from core.strategies.catalog import check_param

    params = _params(pairs, as_json)
    if strategy not in STRATEGIES:
        return params  # the request reports the unknown strategy
    for key, value in params.items():
        try:
            check_param(strategy, key, value)
        except ValueError as exc:
            fail(f"--param {key}={value!r}: {getattr(exc, 'message', exc)}", as_json=as_json)
    try:
        validate_params(strategy, params)
    except ValueError as exc:
        fail(f"--param: {exc}", as_json=as_json)
    return params


def _strategy_fixed(strategy: str, pairs: list[str], as_json: bool) -> dict[str, Any]:
    """A sweep's fixed ``--param`` values, each checked against its declared range."""
    from core.strategies import STRATEGIES
    from core.strategies.catalog import check_param

    params = _params(pairs, as_json)
    for key, value in params.items():
        if strategy in STRATEGIES:
            try:
                check_param(strategy, key, value)
            except ValueError as exc:
                fail(f"--param {key}={value!r}: {getattr(exc, 'message', exc)}", as_json=as_json)
    return params


def _grid_axes(items: list[str], strategy: str | None, as_json: bool) -> dict[str, Any]:
    """``--grid name=start:stop:step`` axes, each checked against the strategy's declared
    parameter range and the point caps before any work."""
    from app.services import research
    from core.strategies import STRATEGIES

    axes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            fail(f"--grid {item!r} must look like name=start:stop:step", as_json=as_json)
        try:
            axes[name.strip()] = research.GridAxis.parse(text.strip())
        except ValueError as exc:
            fail(f"--grid {item!r}: {_validation_message(exc)}", as_json=as_json)
    if axes and strategy in STRATEGIES:
        try:
            research.check_grid(str(strategy), axes)
        except ValueError as exc:
            message = str(exc)
            where = f"--grid {message[5:]}" if message.startswith("grid ") else f"--grid: {message}"
            fail(where, as_json=as_json)
    return axes


# Request fields whose flag has another name; the rest are --field-name.
_FIELD_FLAGS = {
    "n_trials": "--trials",
    "kind": "--model",
    "window_bars": "--window",
    "cooldown_bars": "--cooldown",
    "symbols": "--symbol",
    "regimes": "--regime",
    "params": "--param",
    "fixed": "--param",
    "initial_cash": "--cash",
    "features": "--feature",
    "arms": "--a",
}


def _flag_for(field: str) -> str:
    """The flag of the running command that sets request field ``field`` (else the field)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # older typer: click itself
        from click import get_current_context
    ctx = get_current_context(silent=True)
    if ctx is None:
        return field
    flags = {o for p in ctx.command.params for o in getattr(p, "opts", [])}
    flag = _FIELD_FLAGS.get(field, "--" + field.replace("_", "-"))
    return flag if flag in flags else field


def _validation_message(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            if loc:
                loc[0] = _flag_for(loc[0])
            where = ".".join(loc)
            message = str(err["msg"]).removeprefix("Value error, ")
            parts.append(f"{where}: {message}" if where else message)
        return "; ".join(parts)
    return str(exc)


def _call(as_json: bool, fn: Any, /, **kwargs: Any) -> Any:
    """Call a service; turn bad input into a clear message and exit code 2."""
    try:
        return fn(**kwargs)
    except data_service.DataValidationError as exc:
        fail(str(exc), as_json=as_json, defects=[d.as_dict() for d in exc.defects])
    except (ValueError, LookupError, data_service.DataSourceError) as exc:
        fail(_validation_message(exc), as_json=as_json)
    except PermissionError as exc:
        fail(str(exc), as_json=as_json, code=EXIT_FORBIDDEN)
    except RuntimeError as exc:
        from core.ml.artifacts import ArtifactError

        if not isinstance(exc, ArtifactError):
            raise
        fail(str(exc), as_json=as_json)


STRATEGIES_NAMES = "core.strategies:STRATEGIES"
TRAIN_REQ = "app.services.ml:TrainRequest"
WF_REQ = "app.services.walkforward:WalkForwardRequest"
ENSEMBLE_REQ = "app.services.ensemble:EnsembleRequest"
REPLAY_REQ = "app.services.ensemble:ReplayRequest"
PORTFOLIO_REQ = "app.services.research:PortfolioRequest"
PAPER_REQ = "app.services.paper:PaperRequest"
DATASET_OPT = typer.Option("ohlcv_daily", "--dataset", help="Dataset name.", parser=opt.text())
SYMBOL_OPT = typer.Option("SP500", "--symbol", help="Symbol in the dataset.", parser=opt.text())
STRATEGY_OPT = typer.Option(
    "ma_crossover", "--strategy", help="Strategy name.", parser=opt.choice(STRATEGIES_NAMES)
)
PARAM_OPT = typer.Option([], "--param", help="Strategy parameter name=value (repeatable).")
FEES_OPT = typer.Option(
    0.0005,
    "--fees",
    help="Fees per fill, as a fraction in [0, 0.05] (5 bps = 0.0005).",
    parser=opt.number(0, 0.05),
)
SLIP_OPT = typer.Option(
    0.0005,
    "--slippage",
    help="Slippage per fill, as a fraction in [0, 0.05].",
    parser=opt.number(0, 0.05),
)
SEED_OPT = typer.Option(
    0, "--seed", help="Random seed.", parser=opt.number(0, 2**32 - 1, integer=True)
)
JSON_OPT = typer.Option(False, "--json", help="Print JSON.")
REASON_OPT = typer.Option(
    "", "--reason", help="Why (kept in the audit log).", parser=opt.text(allow_empty=True)
)


@app.command("backtest")
def backtest(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str = STRATEGY_OPT,
    param: list[str] = PARAM_OPT,
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    start: str | None = typer.Option(
        None, "--start", help="First date (YYYY-MM-DD).", parser=opt.iso_date()
    ),
    end: str | None = typer.Option(
        None, "--end", help="Last date (YYYY-MM-DD).", parser=opt.iso_date()
    ),
    regime_mode: str = typer.Option(
        "off",
        "--regime-mode",
        help="off, filter or scale.",
        parser=opt.choice(("off", "filter", "scale")),
    ),
    regime: list[str] = typer.Option(
        [],
        "--regime",
        help="Regime to trade in (repeatable): bull, bear, sideways, volatile.",
        parser=opt.choice(("bull", "bear", "sideways", "volatile")),
    ),
    regime_min_prob: float = typer.Option(
        0.5, "--regime-min-prob", help="Filter threshold in [0, 1].", parser=opt.number(0, 1)
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Backtest one strategy; prints the metrics and the execution convention."""
    from app.services import research

    request = _call(
        as_json,
        research.BacktestRequest,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        params=_strategy_params(strategy, param, as_json),
        fees=fees,
        slippage=slippage,
        start=start,
        end=end,
        regime_mode=regime_mode,
        regimes=regime,
        regime_min_prob=regime_min_prob,
    )
    outcome = _call(as_json, research.run_backtest, request=request)
    payload = {
        **json_safe(outcome.metrics),
        "execution": outcome.execution,
        "regime_note": outcome.regime_note,
        "benchmark": json_safe(outcome.benchmark_metrics),
        "run_id": outcome.run_id,
        "bars": len(outcome.equity),
        "fees": fees,
        "slippage": slippage,
    }
    text = "\n".join(f"{k:>22}: {v}" for k, v in payload.items() if k != "benchmark")
    emit(payload, as_json=as_json, text=text)


@app.command("sweep")
def sweep_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str = STRATEGY_OPT,
    grid: list[str] = typer.Option(..., "--grid", help="name=start:stop:step (repeatable)."),
    param: list[str] = PARAM_OPT,
    metric: str = typer.Option(
        "sharpe",
        "--metric",
        help="Ranking metric.",
        parser=opt.choice("core.backtest.sweep:METRICS"),
    ),
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    top: int = typer.Option(
        10,
        "--top",
        help="Rows of the top-N table (1-1000).",
        parser=opt.number(1, 1000, integer=True),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Vectorized parameter sweep; prints combinations, seconds and the best row."""
    from app.services import research

    axes = _grid_axes(grid, strategy, as_json)
    request = _call(
        as_json,
        research.SweepRequest,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        grid=axes,
        fixed=_strategy_fixed(strategy, param, as_json),
        metric=metric,
        fees=fees,
        slippage=slippage,
    )
    outcome = _call(as_json, research.run_sweep, request=request)
    best = json_safe(dict(outcome.best))
    payload = {
        "combinations": outcome.combinations,
        "seconds": round(outcome.seconds, 4),
        "best": best,
        "metric": metric,
        "run_id": outcome.run_id,
        "execution": outcome.execution,
        "top": outcome.top(top).replace({float("nan"): None}).to_dict(orient="records"),
    }
    text = (
        f"{outcome.combinations} combinations in {outcome.seconds:.3f} s\n"
        f"best by {metric}: {best}\n{outcome.top(top).to_string(index=False)}"
    )
    emit(payload, as_json=as_json, text=text)


@app.command("portfolio")
def portfolio(
    dataset: str = typer.Option(
        "sp500_closes", "--dataset", help="Dataset name.", parser=opt.text()
    ),
    symbol: list[str] = typer.Option(
        ..., "--symbol", help="Symbol (repeat, 2-25).", parser=opt.text()
    ),
    weighting: str = typer.Option(
        "equal",
        "--weighting",
        help="equal or inverse_vol.",
        parser=opt.from_model(PORTFOLIO_REQ, "weighting"),
    ),
    rebalance: str = typer.Option(
        "M",
        "--rebalance",
        help="W, M or none.",
        parser=opt.from_model(PORTFOLIO_REQ, "rebalance"),
    ),
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Multi-asset backtest with shared cash, target weights and rebalancing."""
    from app.services import research

    request = _call(
        as_json,
        research.PortfolioRequest,
        dataset=dataset,
        symbols=symbol,
        weighting=weighting,
        rebalance=rebalance,
        fees=fees,
        slippage=slippage,
    )
    outcome = _call(as_json, research.run_portfolio, request=request)
    payload = {
        **json_safe(outcome.metrics),
        "execution": outcome.execution,
        "run_id": outcome.run_id,
        "final_weights": outcome.weights.iloc[-1].round(6).to_dict(),
    }
    emit(payload, as_json=as_json)


@app.command("abtest")
def abtest(
    a: str = typer.Option(
        ..., "--a", help="Arm A: strategy[:k=v,...] or run:<id>.", parser=opt.text()
    ),
    b: str = typer.Option(
        ..., "--b", help="Arm B: strategy[:k=v,...] or run:<id>.", parser=opt.text()
    ),
    arm: list[str] = typer.Option([], "--arm", help="More arms (repeatable).", parser=opt.text()),
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    alpha: float = typer.Option(0.05, "--alpha"),
    correction: str = typer.Option("holm", "--correction", help="holm or fdr_bh."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples."),
    as_json: bool = JSON_OPT,
) -> None:
    """Statistical A/B comparison of strategies or saved runs on the same data.

    One primary test decides (HAC paired t-test of daily returns, adjusted across pairs);
    the other tests are shown as secondary."""
    from app.services import abtest as ab

    request = _call(
        as_json,
        ab.CompareRequest,
        dataset=dataset,
        symbol=symbol,
        arms=[a, b, *arm],
        fees=fees,
        slippage=slippage,
        alpha=alpha,
        correction=correction,
        n_boot=n_boot,
    )
    outcome = _call(as_json, ab.run_compare, request=request)
    payload = ab.summary_payload(outcome)
    emit(payload, as_json=as_json, text=ab.verdict_text(outcome))


models_app = typer.Typer(help="Model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")


def _actor(as_json: bool) -> Any:
    """The acting user: the one place the CLI gets it (see ``tokens.cli_actor``)."""
    from app.services.tokens import cli_actor

    prompt = _password_prompt if sys.stdin.isatty() else None
    actor = _call(as_json, cli_actor, prompt=prompt)
    if actor.local_mode:
        typer.echo(
            "note: local mode (no sign-in users configured): acting as 'local' with every role",
            err=True,
        )
    return actor


def _password_prompt(text: str) -> str:
    import getpass

    return getpass.getpass(text)


@app.command("train")
def train_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    model: str = typer.Option(
        "xgboost",
        "--model",
        help="logistic, random_forest, xgboost.",
        parser=opt.from_model(TRAIN_REQ, "kind"),
    ),
    horizon: int = typer.Option(
        5, "--horizon", help="Label horizon in bars.", parser=opt.from_model(TRAIN_REQ, "horizon")
    ),
    label: str = typer.Option(
        "sign",
        "--label",
        help="sign or triple_barrier.",
        parser=opt.from_model(TRAIN_REQ, "label"),
    ),
    feature: list[str] = typer.Option(
        [], "--feature", help="Feature name (repeatable).", parser=opt.text()
    ),
    tune: bool = typer.Option(False, "--tune", help="Tune with Optuna (TPE, seeded)."),
    trials: int = typer.Option(
        20, "--trials", help="Optuna trials.", parser=opt.from_model(TRAIN_REQ, "n_trials")
    ),
    seed: int = SEED_OPT,
    threshold: float = typer.Option(
        0.5,
        "--threshold",
        help="Probability to go long.",
        parser=opt.from_model(TRAIN_REQ, "threshold"),
    ),
    register: str | None = typer.Option(
        None, "--register", help="Register as this name.", parser=opt.text()
    ),
    allow_lookahead: bool = typer.Option(
        False,
        "--allow-lookahead",
        help="Train even if the look-ahead check flags a feature (flagged in the output).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Train a classifier, evaluate it out of sample and backtest its signal.

    The look-ahead check runs on the features first (a leaky one is refused, exit 2,
    unless --allow-lookahead); implausible results are flagged in ``warnings``.
    """
    from app.services import ml

    request = _call(
        as_json,
        ml.TrainRequest,
        dataset=dataset,
        symbol=symbol,
        kind=model,
        horizon=horizon,
        label=label,
        features=feature or None,
        tune=tune,
        n_trials=trials,
        seed=seed,
        threshold=threshold,
        allow_lookahead=allow_lookahead,
    )
    outcome = _call(as_json, ml.train, request=request)
    for warning in outcome.warnings:
        typer.echo(f"WARNING: {warning}", err=True)
    ev = outcome.evaluation
    payload: dict[str, Any] = {
        "run_id": outcome.run_id,
        "model": model,
        "features": len(outcome.features),
        "trials": outcome.trials,
        "train_range": [d.isoformat() for d in outcome.train_range],
        "test_range": [d.isoformat() for d in outcome.test_range],
        **json_safe({k: ev[k] for k in ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy")}),
        "confusion_matrix": ev["confusion_matrix"],
        "top_features": outcome.importance.head(10).index.tolist(),
        "signal": json_safe(outcome.signal_metrics),
        "params": outcome.params,
        "lookahead": outcome.lookahead,
        "warnings": list(outcome.warnings),
    }
    if register:
        payload["registered"] = _call(
            as_json, ml.register, run_id=outcome.run_id, name=register, actor=_actor(as_json)
        ).as_dict()
    emit(payload, as_json=as_json)


@models_app.command("list")
def models_list(
    name: str | None = typer.Option(None, "--name", parser=opt.text()), as_json: bool = JSON_OPT
) -> None:
    """Registered model versions, with stage and metrics."""
    from app.services import ml

    rows = [v.as_dict() for v in ml.list_versions(name)]
    text = "\n".join(
        f"#{r['id']:<4} {r['name']} v{r['version']:<3} {r['kind']:<13} {r['stage']:<9} "
        f"auc={r['metrics'].get('roc_auc')}"
        for r in rows
    )
    emit({"versions": rows}, as_json=as_json, text=text or "no registered models")


@models_app.command("promote")
def models_promote(
    version_id: int = typer.Argument(
        ..., help="Version id (see models list).", parser=opt.number(1, None, integer=True)
    ),
    reason: str = typer.Option("", "--reason", parser=opt.text(allow_empty=True)),
    as_json: bool = JSON_OPT,
) -> None:
    """Make a version the champion (the previous champion is archived)."""
    from app.services import ml

    row = _call(as_json, ml.promote, version_id=version_id, reason=reason, actor=_actor(as_json))
    emit(row.as_dict(), as_json=as_json, text=f"{row.name} v{row.version} is now champion")


@models_app.command("rollback")
def models_rollback(
    name: str = typer.Argument(..., help="Model name.", parser=opt.text()),
    reason: str = typer.Option("", "--reason", parser=opt.text(allow_empty=True)),
    as_json: bool = JSON_OPT,
) -> None:
    """Restore the previous champion."""
    from app.services import ml

    row = _call(as_json, ml.rollback, name=name, reason=reason, actor=_actor(as_json))
    emit(row.as_dict(), as_json=as_json, text=f"{row.name} v{row.version} is champion again")


@app.command("walkforward")
def walkforward_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str | None = typer.Option(
        None,
        "--strategy",
        help="Rule strategy to optimize.",
        parser=opt.choice(STRATEGIES_NAMES),
    ),
    grid: list[str] = typer.Option([], "--grid", help="name=start:stop:step (repeatable)."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="Or: logistic|random_forest|xgboost.",
        parser=opt.from_model(WF_REQ, "model"),
    ),
    folds: int | None = typer.Option(
        None, "--folds", help="Keep the latest K folds.", parser=opt.from_model(WF_REQ, "folds")
    ),
    mode: str = typer.Option(
        "rolling", "--mode", help="rolling or anchored.", parser=opt.from_model(WF_REQ, "mode")
    ),
    train_bars: int = typer.Option(
        1000, "--train-bars", parser=opt.number(100, 1_000_000, integer=True)
    ),
    test_bars: int = typer.Option(
        250, "--test-bars", parser=opt.number(20, 1_000_000, integer=True)
    ),
    retune: bool = typer.Option(False, "--retune", help="Re-tune the model on every fold."),
    trials: int = typer.Option(10, "--trials", parser=opt.from_model(WF_REQ, "n_trials")),
    out: Path | None = typer.Option(
        None, "--out", help="Also write an HTML report.", parser=opt.output_file()
    ),
    allow_lookahead: bool = typer.Option(
        False,
        "--allow-lookahead",
        help="Run even if the look-ahead check flags a feature (flagged in the output).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Walk-forward validation with deflated Sharpe and PBO.

    Model walk-forwards first run the look-ahead check on their features and refuse a
    leaky one (exit 2) unless --allow-lookahead. Implausible out-of-sample results
    (AUC >= 0.9, Sharpe >= 4) are flagged in ``warnings``.
    """
    from app.services import walkforward as wf

    axes = _grid_axes(grid, strategy, as_json)
    request = _call(
        as_json,
        wf.WalkForwardRequest,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        grid=axes,
        model=model,
        folds=folds,
        mode=mode,
        train_bars=train_bars,
        test_bars=test_bars,
        retune=retune,
        n_trials=trials,
        allow_lookahead=allow_lookahead,
    )
    outcome = _call(as_json, wf.run_walkforward, request=request)
    payload = outcome.payload()
    for warning in payload["warnings"]:
        typer.echo(f"WARNING: {warning}", err=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(wf.report_html(outcome), encoding="utf-8")
        payload["report"] = str(out)
    emit(payload, as_json=as_json)


@app.command("lookahead-check")
def lookahead_cmd(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str | None = typer.Option(
        None, "--strategy", help="Strategy to check.", parser=opt.choice(STRATEGIES_NAMES)
    ),
    param: list[str] = PARAM_OPT,
    feature: list[str] = typer.Option(
        [], "--feature", help="Feature (repeatable); default all.", parser=opt.text()
    ),
    leaky_demo: bool = typer.Option(
        False, "--include-leaky-demo", help="Add a deliberately leaky feature (must be flagged)."
    ),
    cuts: int = typer.Option(
        20, "--cuts", help="Truncation points (1-500).", parser=opt.number(1, 500, integer=True)
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Flag any bar whose value changes when later bars are added. Exit 1 if leaky."""
    from app.services import walkforward as wf

    report = _call(
        as_json,
        wf.lookahead,
        dataset=dataset,
        symbol=symbol,
        strategy=strategy,
        params=_strategy_params(strategy, param, as_json),
        features=feature or None,
        include_leaky_demo=leaky_demo,
        cuts=cuts,
    )
    payload = {
        "leaky": report.leaky,
        "offending_columns": list(report.offending_columns),
        "first_offending_bars": {k: str(v) for k, v in report.first_offending_bars.items()},
        "cuts": len(report.cuts),
        "message": report.message(),
    }
    emit(payload, as_json=as_json, text=report.message())
    if report.leaky:
        raise typer.Exit(1)


alerts_app = typer.Typer(help="Alert channels, rules, tests and history.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
def alerts_test(
    channel: str = typer.Option("in-app", "--channel", help="Channel name."),
    url: str | None = typer.Option(None, "--url", help="Add/replace the channel with this URL."),
    as_json: bool = JSON_OPT,
) -> None:
    """Send a test alert through a channel; exit 1 if delivery failed."""
    from app.services import alerts
    from core.alerts import ChannelSpec

    if url is not None:
        spec = _call(as_json, ChannelSpec, name=channel, url=url)
        _call(as_json, alerts.save_channel, spec=spec, actor=_actor(as_json))
    result = _call(as_json, alerts.send_test, channel=channel, actor=_actor(as_json))
    emit(
        result,
        as_json=as_json,
        text=f"{result['status']}: {result['message']}"
        + "".join(f"\n  error: {e}" for e in result["errors"]),
    )
    if result["status"] != "sent":
        raise typer.Exit(1)


@alerts_app.command("list")
def alerts_list(as_json: bool = JSON_OPT) -> None:
    """Configured channels (URLs masked) and rules."""
    from app.services import alerts

    payload = {
        "channels": alerts.list_channels(),
        "rules": [r.model_dump() for r in alerts.list_rules()],
    }
    emit(payload, as_json=as_json)


@alerts_app.command("history")
def alerts_history(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000), as_json: bool = JSON_OPT
) -> None:
    """Alert history, newest first."""
    from app.services import alerts

    rows = alerts.history(limit)
    emit(
        {"events": rows},
        as_json=as_json,
        text="\n".join(f"{r['at']} {r['status']:<10} {r['message']}" for r in rows),
    )


@alerts_app.command("audit")
def alerts_audit(
    limit: int = typer.Option(50, "--limit", min=1, max=10_000), as_json: bool = JSON_OPT
) -> None:
    """Who changed which rule or channel, newest first."""
    from app.services import alerts

    rows = alerts.audit(limit)
    emit(
        {"audit": rows},
        as_json=as_json,
        text="\n".join(f"{r['at']} {r['actor']:<20} {r['action']:<24} {r['target']}" for r in rows),
    )


rule_app = typer.Typer(help="Add, enable, disable or delete alert rules.", no_args_is_help=True)
channel_app = typer.Typer(
    help="Add, enable, disable or delete alert channels.", no_args_is_help=True
)
alerts_app.add_typer(rule_app, name="rule")
alerts_app.add_typer(channel_app, name="channel")


def _confirm_delete(what: str, yes: bool, as_json: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"deleting {what} needs confirmation: add --yes", as_json=as_json)
    if not typer.confirm(f"Delete {what}?"):
        raise typer.Exit(1)


@rule_app.command("add")
def rule_add(
    name: str = typer.Argument(..., help="Rule name (letters, digits, _ . -)."),
    kind: str = typer.Option(..., "--kind", help="What to watch (see the Alerts page)."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="In the kind's unit: drawdown 0.10 = 10% (a fraction)."
    ),
    metric: str | None = typer.Option(None, "--metric", help="For model_metric_below."),
    channel: list[str] = typer.Option(["in-app"], "--channel", help="Channel (repeatable)."),
    severity: str = typer.Option("warning", "--severity", help="info, warning or critical."),
    cooldown: int = typer.Option(900, "--cooldown", help="Seconds between repeats (0-604800)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Create or replace a rule (risk role); the threshold is checked in its unit."""
    from app.services import alerts
    from core.alerts import AlertRuleSpec

    fields = {
        "name": name,
        "kind": kind,
        "threshold": threshold,
        "metric": metric,
        "channels": channel,
        "severity": severity,
        "cooldown_s": cooldown,
    }
    spec = _call(as_json, AlertRuleSpec, **fields)
    _call(as_json, alerts.save_rule, spec=spec, actor=_actor(as_json))
    emit(spec.model_dump(), as_json=as_json, text=f"rule {name} saved")


def _toggle(kind: str, name: str, enabled: bool, as_json: bool) -> None:
    from app.services import alerts

    fn = alerts.set_rule_enabled if kind == "rule" else alerts.set_channel_enabled
    _call(as_json, fn, name=name, enabled=enabled, actor=_actor(as_json))
    state = "enabled" if enabled else "disabled"
    emit({kind: name, "enabled": enabled}, as_json=as_json, text=f"{kind} {name} {state}")


def _delete(kind: str, name: str, yes: bool, as_json: bool) -> None:
    """Delete a rule or a channel once confirmed (risk role, audited)."""
    from app.services import alerts

    _confirm_delete(f"{kind} {name}", yes, as_json)
    fn = alerts.delete_rule if kind == "rule" else alerts.delete_channel
    _call(as_json, fn, name=name, actor=_actor(as_json))
    emit({"deleted": name}, as_json=as_json, text=f"{kind} {name} deleted")


NAME_ARG = typer.Argument(..., help="Its name.", parser=opt.text())
YES_OPT = typer.Option(False, "--yes", help="Confirm.")


@rule_app.command("enable")
def rule_enable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Enable a rule."""
    _toggle("rule", name, True, as_json)


@rule_app.command("disable")
def rule_disable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Disable a rule (kept, not evaluated)."""
    _toggle("rule", name, False, as_json)


@rule_app.command("delete")
def rule_delete(
    name: str = NAME_ARG,
    yes: bool = YES_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Delete a rule (its history stays)."""
    _delete("rule", name, yes, as_json)


@channel_app.command("add")
def channel_add(
    name: str = typer.Argument(..., help="Channel name (letters, digits, _ . -)."),
    url: str = typer.Option(
        ...,
        "--url",
        prompt="Apprise URL",
        hide_input=True,
        help="Apprise URL; leave out to be asked (hidden) or pipe it on stdin.",
    ),
    disabled: bool = typer.Option(False, "--disabled", help="Save it disabled."),
    as_json: bool = JSON_OPT,
) -> None:
    """Create or replace a channel (risk role); the URL is stored encrypted."""
    from app.services import alerts
    from core.alerts import ChannelSpec

    spec = _call(as_json, ChannelSpec, name=name, url=url, enabled=not disabled)
    _call(as_json, alerts.save_channel, spec=spec, actor=_actor(as_json))
    emit(
        {"name": name, "url": spec.masked, "enabled": not disabled},
        as_json=as_json,
        text=f"channel {name} saved: {spec.masked}",
    )


@channel_app.command("enable")
def channel_enable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Enable a channel."""
    _toggle("channel", name, True, as_json)


@channel_app.command("disable")
def channel_disable(name: str = NAME_ARG, as_json: bool = JSON_OPT) -> None:
    """Disable a channel (rules skip it and record why)."""
    _toggle("channel", name, False, as_json)


@channel_app.command("delete")
def channel_delete(
    name: str = NAME_ARG,
    yes: bool = YES_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Delete a channel no rule uses (its encrypted URL goes with it)."""
    _delete("channel", name, yes, as_json)


token_app = typer.Typer(
    help="Personal access tokens for the CLI when sign-in users are configured.",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")


def _password_signed_in(as_json: bool) -> Any:
    import os

    from app.services.auth import auth_mode
    from app.services.tokens import password_actor

    if auth_mode() == "local":
        fail(
            "no sign-in users are configured (local mode): the CLI needs no token; "
            "configure [workbench.users] in the secrets file first",
            as_json=as_json,
        )
    prompt = _password_prompt if sys.stdin.isatty() else None
    return _call(as_json, password_actor, env=dict(os.environ), prompt=prompt)


@token_app.command("create")
def token_create(
    name: str = typer.Option(
        ..., "--name", help="What the token is for, e.g. laptop.", parser=opt.text()
    ),
    days: int = typer.Option(90, "--days", help="Lifetime in days (1-365).", min=1, max=365),
    as_json: bool = JSON_OPT,
) -> None:
    """Make a token for WORKBENCH_USER (password required); it is shown only once."""
    from app.services.tokens import create_token

    actor = _password_signed_in(as_json)
    token_id, token = _call(as_json, create_token, actor=actor, name=name, days=days)
    emit(
        {"id": token_id, "user": actor.name, "token": token},
        as_json=as_json,
        text=f"token {token_id} for {actor.name} (shown once; keep it secret):\n{token}\n"
        "use it with: export WORKBENCH_TOKEN=<token>",
    )


@token_app.command("list")
def token_list(as_json: bool = JSON_OPT) -> None:
    """Your tokens (never the tokens themselves)."""
    from app.services.tokens import list_tokens

    actor = _actor(as_json)
    rows = _call(as_json, list_tokens, actor=actor)
    emit(
        {"user": actor.name, "tokens": rows},
        as_json=as_json,
        text="\n".join(
            f"{r['id']:>4} {r['name']:<20} {r['prefix']:<16} {r['status']:<8} "
            f"expires {r['expires_at']}"
            for r in rows
        )
        or "no tokens",
    )


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(
        ..., help="Id from `workbench token list`.", min=1, max=2**63 - 1
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Revoke one of your tokens."""
    from app.services.tokens import revoke_token

    actor = _actor(as_json)
    _call(as_json, revoke_token, actor=actor, token_id=token_id)
    emit({"revoked": token_id}, as_json=as_json, text=f"token {token_id} revoked")


@app.command("whoami")
def whoami(as_json: bool = JSON_OPT) -> None:
    """Who the CLI acts as, and in which mode (local or signed in)."""
    from app.services.auth import auth_mode

    mode = auth_mode()
    actor = _actor(as_json)
    emit(
        {"user": actor.name, "roles": sorted(actor.roles), "mode": mode},
        as_json=as_json,
        text=f"{actor.name} ({', '.join(sorted(actor.roles)) or 'no roles'}); mode: {mode}",
    )


ensemble_app = typer.Typer(
    help="Strategy ensemble with a bandit meta-selector.", no_args_is_help=True
)
app.add_typer(ensemble_app, name="ensemble")
retrain_app = typer.Typer(help="Performance-triggered retraining.", no_args_is_help=True)
app.add_typer(retrain_app, name="retrain")


@ensemble_app.command("eval")
def ensemble_eval(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    selector: str = typer.Option(
        "contextual",
        "--selector",
        help="ucb, thompson, exp3 or contextual.",
        parser=opt.from_model(ENSEMBLE_REQ, "selector"),
    ),
    train_fraction: float = typer.Option(
        0.5, "--train-fraction", parser=opt.from_model(ENSEMBLE_REQ, "train_fraction")
    ),
    seed: int = SEED_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Walk-forward ensemble vs the best single agent and equal weights."""
    from app.services import ensemble

    request = _call(
        as_json,
        ensemble.EnsembleRequest,
        dataset=dataset,
        symbol=symbol,
        selector=selector,
        train_fraction=train_fraction,
        seed=seed,
    )
    outcome = _call(as_json, ensemble.run_ensemble, request=request)
    payload = outcome.payload()
    text = (
        f"{selector}: ensemble Sharpe {payload['ensemble_sharpe']:.3f}, best single "
        f"({payload['best_agent']}) {payload['best_single_sharpe']:.3f}, equal weight "
        f"{payload['equal_weight_sharpe']:.3f}; regret {payload['regret']:.3f}; "
        f"{payload['switches']} switches"
    )
    emit(payload, as_json=as_json, text=text)


@retrain_app.command("replay")
def retrain_replay(
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    metric: str = typer.Option(
        "sharpe",
        "--metric",
        help="sharpe, total_return, hit_rate.",
        parser=opt.from_model(REPLAY_REQ, "metric"),
    ),
    threshold: float = typer.Option(0.0, "--threshold", parser=opt.number(-1e6, 1e6)),
    window: int = typer.Option(
        126,
        "--window",
        help="Rolling window (bars).",
        parser=opt.from_model(REPLAY_REQ, "window_bars"),
    ),
    cooldown: int = typer.Option(
        63,
        "--cooldown",
        help="Bars between retrains.",
        parser=opt.from_model(REPLAY_REQ, "cooldown_bars"),
    ),
    model: str = typer.Option(
        "ma_crossover",
        "--model",
        help="ma_crossover, logistic, random_forest or xgboost.",
        parser=opt.from_model(REPLAY_REQ, "model"),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """What the retraining policy would have done over history (decisions recorded)."""
    from app.services import ensemble

    request = _call(
        as_json,
        ensemble.ReplayRequest,
        dataset=dataset,
        symbol=symbol,
        metric=metric,
        threshold=threshold,
        window_bars=window,
        cooldown_bars=cooldown,
        model=model,
    )
    rows = _call(as_json, ensemble.replay_retraining, request=request)
    counts = {k: sum(r["decision"] == k for r in rows) for k in ("promoted", "kept", "rolled_back")}
    emit(
        {"decisions": rows, "counts": counts},
        as_json=as_json,
        text="\n".join(f"{r['as_of']} {r['decision']:<11} {r['reason']}" for r in rows),
    )


paper_app = typer.Typer(help="Supervised paper trading.", no_args_is_help=True)
app.add_typer(paper_app, name="paper")


@paper_app.command("run")
def paper_run(
    broker: str = typer.Option(
        "sim", "--broker", help="sim or alpaca.", parser=opt.from_model(PAPER_REQ, "broker")
    ),
    session: str = typer.Option(
        "default",
        "--session",
        help="Session name (resumes if it exists).",
        parser=opt.from_model(PAPER_REQ, "session"),
    ),
    dataset: str = DATASET_OPT,
    symbol: list[str] = typer.Option(
        ["SP500"], "--symbol", help="Symbol (repeatable).", parser=opt.text()
    ),
    replay: bool = typer.Option(True, "--replay/--live", help="Replay embedded data."),
    steps: int | None = typer.Option(None, "--steps", help="Bars to process in this run."),
    speed: float = typer.Option(0.0, "--speed", help="Bars per second (0: as fast as possible)."),
    until: str | None = typer.Option(None, "--until", help="Last bar to replay (YYYY-MM-DD)."),
    train_bars: int = typer.Option(
        1000,
        "--train-bars",
        help="Bars used to tune the agents.",
        parser=opt.from_model(PAPER_REQ, "train_bars"),
    ),
    selector: str = typer.Option(
        "contextual", "--selector", parser=opt.from_model(PAPER_REQ, "selector")
    ),
    initial_cash: float = typer.Option(
        100_000.0,
        "--cash",
        help="Starting cash (> 0, at most 1e12).",
        parser=opt.number(0, 1e12, low_open=True),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Run the paper-trading worker (resumable; steer it with `paper pause|resume|kill`).

    Exits 4 when another worker runs the session (nothing is written).
    """
    from app.services import paper
    from core.broker import BrokerConfigError
    from core.paper.lease import LeaseHeldError, LeaseLostError

    _call(as_json, paper.check_run_options, steps=steps, speed=speed)
    if not replay:
        fail("live mode needs a live data feed; use --replay on embedded data", as_json=as_json)
    request = _call(
        as_json,
        paper.PaperRequest,
        session=session,
        broker=broker,
        dataset=dataset,
        symbols=symbol,
        train_bars=train_bars,
        selector=selector,
        initial_cash=initial_cash,
    )
    try:
        summary = _call(
            as_json,
            paper.run_worker,
            request=request,
            steps=steps,
            speed=speed,
            until=until,
            actor=_actor(as_json),
        )
    except (LeaseHeldError, LeaseLostError) as exc:
        fail(str(exc), as_json=as_json, code=EXIT_BUSY)
    except BrokerConfigError as exc:
        fail(str(exc), as_json=as_json)
    emit(summary, as_json=as_json)


def _paper_state(state: str, reason: str, flatten: bool | None, as_json: bool) -> None:
    """Exit 1 when nothing changed (e.g. pause with no running worker)."""
    from app.services import paper

    outcome = _call(
        as_json, paper.set_state, state=state, reason=reason, flatten=flatten, actor=_actor(as_json)
    )
    emit(outcome.as_dict(), as_json=as_json, text=f"paper trader: {outcome.message}")
    if not outcome.changed:
        raise typer.Exit(1)


@paper_app.command("pause")
def paper_pause(reason: str = REASON_OPT, as_json: bool = JSON_OPT) -> None:
    """Pause the worker after its current bar."""
    _paper_state("paused", reason, None, as_json)


@paper_app.command("resume")
def paper_resume(reason: str = REASON_OPT, as_json: bool = JSON_OPT) -> None:
    """Resume a paused worker."""
    _paper_state("running", reason, None, as_json)


@paper_app.command("kill")
def paper_kill(
    flatten: bool = typer.Option(True, "--flatten/--keep-positions"),
    reason: str = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Kill switch: cancel open orders and (by default) flatten every position."""
    _paper_state("killed", reason or "kill switch from the CLI", flatten, as_json)


@paper_app.command("status")
def paper_status(
    session: str | None = typer.Option(
        None, "--session", parser=opt.from_model(PAPER_REQ, "session")
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Session, control state, heartbeat, account and positions."""
    from app.services import paper

    view = paper.monitor(session)
    payload = {
        "session": view.session,
        "control": view.control,
        "heartbeat": view.heartbeat,
        "alive": view.alive,
        "account": view.account,
        "positions": view.positions.to_dict(orient="records"),
        "open_orders": len(view.open_orders),
        "orders": len(view.orders),
        "fills": len(view.fills),
    }
    emit(payload, as_json=as_json)


risk_app = typer.Typer(help="Pre-trade checks and risk limits.", no_args_is_help=True)
limits_app = typer.Typer(help="Show or change the risk limits (audited).", no_args_is_help=True)
app.add_typer(risk_app, name="risk")
risk_app.add_typer(limits_app, name="limits")


@risk_app.command("check")
def risk_check(
    symbol: str = typer.Option(..., "--symbol", parser=opt.text()),
    qty: float = typer.Option(..., "--qty"),
    side: str = typer.Option("buy", "--side", help="buy or sell."),
    dataset: str = DATASET_OPT,
    session: str | None = typer.Option(
        None,
        "--session",
        help="Paper session (default newest).",
        parser=opt.from_model(PAPER_REQ, "session"),
    ),
    price: float | None = typer.Option(None, "--price", help="Price (default latest close)."),
    as_json: bool = JSON_OPT,
) -> None:
    """Pre-trade check: {approved, rejection_reasons, allowed_quantity}."""
    from app.services import risk

    _risk_check_flags(symbol=symbol, qty=qty, side=side, price=price, as_json=as_json)
    result = _call(
        as_json,
        risk.check_order,
        symbol=symbol,
        qty=qty,
        side=side,
        dataset=dataset,
        session=session,
        price=price,
    )
    emit(result, as_json=as_json)


@limits_app.command("show")
def limits_show(as_json: bool = JSON_OPT) -> None:
    """The limits in force and their version."""
    from app.services import risk

    version, limits = risk.current_limits()
    emit({"version": version, "limits": limits.model_dump()}, as_json=as_json)


def _risk_check_flags(
    *, symbol: str, qty: float, side: str, price: float | None, as_json: bool
) -> None:
    """``risk check`` flags, each checked in its unit and range before any work."""
    import math

    if not symbol.strip():
        fail("--symbol must name a symbol of the dataset, e.g. SP500", as_json=as_json)
    if not (math.isfinite(qty) and 0 < qty <= 1e12):
        fail(f"--qty must be a number of shares in (0, 1e12], e.g. 100; got {qty}", as_json=as_json)
    if side not in ("buy", "sell"):
        fail(f"--side must be buy or sell; got {side!r}", as_json=as_json)
    if price is not None and not (math.isfinite(price) and 0 < price <= 1e9):
        fail(f"--price must be a price in (0, 1e9], e.g. 185.5; got {price}", as_json=as_json)


def _limit_values(pairs: list[str], as_json: bool) -> dict[str, Any]:
    """``name=value`` arguments, each limit checked in its unit and range before any work."""
    from core.risk.limits import check_limit_values

    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            fail(
                f"{pair!r} must look like name=value, e.g. max_weight_per_asset=0.2",
                as_json=as_json,
            )
        try:
            values[name.strip()] = parse_value(raw.strip())
        except ValueError:  # e.g. inf or nan: the range check below names the limit
            values[name.strip()] = raw.strip()
    errors = check_limit_values(values)
    if errors:
        fail("; ".join(errors.values()), as_json=as_json)
    return values


@limits_app.command("set")
def limits_set(
    values: list[str] = typer.Argument(
        ..., help="name=value pairs, e.g. max_weight_per_asset=0.2", parser=opt.text()
    ),
    reason: str = typer.Option(
        ..., "--reason", help="Why (kept in the audit history).", parser=opt.text()
    ),
    expected_version: int | None = typer.Option(
        None,
        "--expected-version",
        help="Refuse (exit 2, naming who changed them and when) if the limits are no longer "
        "at this version; default: apply on top of the version in force.",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Change limits (risk role); validated, versioned and audited."""
    from app.services import risk

    parsed = _limit_values(values, as_json)
    if not reason.strip():
        fail("--reason must say why the limits change (kept in the audit history)", as_json=as_json)
    if expected_version is not None and expected_version < 0:
        fail(f"--expected-version must be a version >= 0; got {expected_version}", as_json=as_json)
    change = _call(
        as_json,
        risk.set_limits,
        values=parsed,
        reason=reason,
        actor=_actor(as_json),
        expected_version=expected_version,
    )
    emit(
        {
            "version": change.version,
            "changes": {k: list(v) for k, v in change.changes.items()},
            "changed_by": change.changed_by,
        },
        as_json=as_json,
        text=f"limits version {change.version}: "
        + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in change.changes.items()),
    )


@app.command("report")
def report(
    out: Path = typer.Option(..., "--out", help="HTML file to write.", parser=opt.output_file()),
    dataset: str = DATASET_OPT,
    symbol: str = SYMBOL_OPT,
    strategy: str = STRATEGY_OPT,
    param: list[str] = PARAM_OPT,
    fees: float = FEES_OPT,
    slippage: float = SLIP_OPT,
    run_id: int | None = typer.Option(
        None,
        "--run",
        help="Saved backtest run id instead.",
        parser=opt.number(1, None, integer=True),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Write a quantstats HTML tear sheet (benchmark: buy-and-hold of the same symbol)."""
    from app.services import research

    if run_id is not None:
        outcome = _call(as_json, research.reopen_backtest, run_id=run_id)
    else:
        request = _call(
            as_json,
            research.BacktestRequest,
            dataset=dataset,
            symbol=symbol,
            strategy=strategy,
            params=_strategy_params(strategy, param, as_json),
            fees=fees,
            slippage=slippage,
        )
        outcome = _call(as_json, research.run_backtest, request=request)
    html = _call(as_json, research.tearsheet, outcome=outcome)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    emit(
        {"out": str(out), "bytes": len(html), "run_id": outcome.run_id},
        as_json=as_json,
        text=f"wrote {out} ({len(html):,} bytes)",
    )


@app.command("runs")
def runs_cmd(
    kind: str | None = typer.Option(None, "--kind", help="backtest, sweep, ...", parser=opt.text()),
    limit: int = typer.Option(
        20, "--limit", help="Rows (1-10000).", parser=opt.number(1, 10_000, integer=True)
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """List saved runs, newest first."""
    from app.services import runs as run_store

    rows = [
        {
            "id": r.id,
            "kind": r.kind,
            "title": r.title,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "metrics": r.metrics,
        }
        for r in run_store.list_runs(kind=kind, limit=limit)
    ]
    emit(
        {"runs": rows},
        as_json=as_json,
        text="\n".join(f"#{r['id']:<5} {r['kind']:<9} {r['title']}" for r in rows),
    )


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


@app.command("bench")
def bench(
    repeats: int = typer.Option(
        7,
        "--repeats",
        help="Timing repeats per measurement (1-1000).",
        parser=opt.number(1, 1000, integer=True),
    ),
    only: list[str] = typer.Option(
        [],
        "--only",
        help="Sections to run: research, ml, pipeline, risk (default all).",
        parser=opt.choice("core.bench:SECTIONS"),
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Benchmarks: medians and percentiles, throughput; never timed unit tests."""
    from core import bench as core_bench

    sections = only or list(core_bench.SECTIONS)
    unknown = sorted(set(sections) - set(core_bench.SECTIONS))
    if unknown:
        fail(f"--only {unknown}: choose from {list(core_bench.SECTIONS)}", as_json=as_json)
    report = {name: core_bench.SECTIONS[name](repeats=repeats) for name in sections}
    emit(report, as_json=as_json, text=core_bench.summary_text(report))


@app.command("hash-password")
def hash_password_cmd(
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, confirmation_prompt=True
    ),
) -> None:
    """Print a password hash for [workbench.users.<name>] in .streamlit/secrets.toml."""
    from app.services.auth import hash_password

    typer.echo(_call(False, hash_password, password=password))


@app.command("setup")
def setup(
    warm: bool = typer.Option(True, "--warm/--no-warm", help="Warm numba's cache."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Verify embedded data, migrate the database and warm numba (idempotent)."""
    from app.services.system import SetupError, run_setup
    from core.config import SecretKeyError, get_settings

    try:
        report = run_setup(warm=warm)
        settings = get_settings()
        had_key = settings.fernet_key() is not None
        settings.fernet_key(create=True)  # var/secret.key (0600) when no key is configured
    except (SetupError, SecretKeyError) as exc:
        fail(str(exc), as_json=as_json)
        return
    report.notes.append(
        f"secret key for credentials at rest: {settings.secret_key_source()}"
        + ("" if had_key else " (created)")
    )
    text = (
        f"data: {', '.join(f'{k} {v}' for k, v in report.data_files.items())}\n"
        f"database: {report.database_url} (migrated)\n"
        f"numba warm-up: {report.numba_warmup_seconds} s"
        + "".join(f"\nnote: {n}" for n in report.notes)
    )
    emit(report.__dict__, as_json=as_json, text=text)


def main() -> None:
    """Entry point of the ``workbench`` script."""
    try:
        app()
    except data_service.DataSourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
