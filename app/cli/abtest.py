"""``workbench`` commands: a/B comparisons of strategies or saved runs."""

from __future__ import annotations

import typer

from app.cli import options as opt
from app.cli._app import app
from app.cli._common import DATASET_OPT, FEES_OPT, JSON_OPT, SLIP_OPT, SYMBOL_OPT, _call, emit


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
