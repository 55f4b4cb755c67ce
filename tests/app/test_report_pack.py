"""The report pack from the database (app/services/report_pack*.py): the numbers of a
seeded scenario, recomputed here from the stored rows and files, land in the HTML.

The scenario is real where it is cheap: a trained and registered model trades a paper
session (the worker runs 60 bars), backtests and A/B comparisons run through their
services; the walk-forward run is saved as its service saves one (a Dask walk-forward
would take longer than this file may). Expected values come from the stored equity,
positions and run files with numpy, not from the pack's code.
"""

from __future__ import annotations

import hashlib
import math
import subprocess
from datetime import UTC, date, datetime
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from app.operations.abtest import CompareRequest
from app.operations.backtest import BacktestRequest
from app.operations.paper import PaperRequest
from app.operations.registry import PromoteRequest, RegisterRequest
from app.operations.report_pack import ReportPackRequest
from app.operations.risk import LimitsChangeRequest
from app.operations.training import TrainRequest
from app.services import abtest, paper, registry, risk
from app.services import runs as run_store
from app.services.backtest import run_backtest
from app.services.db import get_engine
from app.services.report_pack import build_pack, make_pack
from app.services.training import train
from core.backtest.spec import BacktestSpec
from core.config import ROOT
from core.reports.pack import render_html
from core.store.db import session_scope
from core.store.paper import EquitySnapshot, PaperSession
from core.store.trading import TradingAccount, TradingPosition

T0 = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
FEATURES = ["ret_1", "ret_5", "rsi_14", "vol_21"]


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> list[dict[str, list[str]]]:
    """Each table as {first cell of a row: the row's other cells}."""
    parser = _Tables()
    parser.feed(html)
    return [{row[0]: row[1:] for row in table if row} for table in parser.tables]


def _equity_figures(equity: np.ndarray, cash: float) -> dict[str, str]:
    """Total return, Sharpe and max drawdown of an equity path, as the pack prints them."""
    path = np.concatenate([[cash], equity])
    returns = path[1:] / path[:-1] - 1
    sharpe = returns.mean() / returns.std(ddof=1) * math.sqrt(252)
    drawdown = (path / np.maximum.accumulate(path)).min() - 1
    return {
        "Total return": f"{(equity[-1] / cash - 1) * 100:,.1f}%",
        "Sharpe": f"{sharpe:,.2f}",
        "Max drawdown": f"{drawdown * 100:,.1f}%",
    }


def test_model_pack_shows_the_stored_paper_backtest_risk_and_ab_numbers() -> None:
    trained = train(TrainRequest(kind="logistic", features=FEATURES, symbol="AAPL"))
    version = registry.register(RegisterRequest(run_id=trained.run_id, name="alpha"))
    registry.promote(PromoteRequest(version_id=version.id, reason="first champion"))
    risk.set_limits(
        LimitsChangeRequest(values={"max_weight_per_asset": 0.2}, reason="report pack test")
    )
    request = PaperRequest(
        session="alpha-live", symbols=["AAPL", "MSFT"], model="alpha@champion", train_bars=300
    )
    paper.run_worker(request, steps=40)
    ab = abtest.run_compare(
        CompareRequest(symbol="AAPL", arms=["buy_and_hold", f"model:{version.id}"], n_boot=200)
    )

    pack = build_pack("model", "alpha", at=T0)
    html = render_html(pack)
    tables = _tables(html)
    side_by_side, _limits = tables[0], tables[1]
    head = side_by_side["Metric"]
    training_col = head.index(f"alpha v1 (training run {trained.run_id}, test period)")
    paper_col = head.index("Paper session alpha-live")

    # paper column: the session's stored equity snapshots, recomputed here
    with session_scope(get_engine()) as s:
        row = s.scalar(select(PaperSession).where(PaperSession.name == "alpha-live"))
        equity = np.array(
            s.scalars(
                select(EquitySnapshot.equity)
                .where(EquitySnapshot.session_id == row.id)
                .order_by(EquitySnapshot.bar)
            ).all()
        )
        account = s.get(TradingAccount, row.account_id)
        positions = s.scalars(
            select(TradingPosition).where(
                TradingPosition.account_id == row.account_id, TradingPosition.qty != 0
            )
        ).all()
        values = {p.symbol: p.qty * (p.last_price or p.avg_price) for p in positions}
        account_equity = account.equity
    assert len(equity) == 40
    for label, text in _equity_figures(equity, 100_000.0).items():
        assert side_by_side[label][paper_col] == text, label
    assert side_by_side["Bars"][paper_col] == "40"

    # training column: the run's stored test-period equity (its signal backtest)
    curves = pd.read_parquet(run_store.run_folder(trained.run_id) / "curves.parquet")
    test_equity = curves["equity"].dropna().to_numpy()
    cash = BacktestSpec().init_cash  # the training backtest's default cash
    for label, text in _equity_figures(test_equity, cash).items():
        assert side_by_side[label][training_col] == text, label

    # risk: version 1 of the limits, the book's weights from its positions and equity
    assert "Limits in force: version 1." in html
    limits = tables[1]
    assert limits["Limit"] == ["In force", "Used by alpha-live"]
    assert values, "the model held positions after 40 bars"
    max_weight = max(abs(v) for v in values.values()) / account_equity
    gross = sum(abs(v) for v in values.values()) / account_equity
    assert limits["Max weight per asset"] == ["20.0%", f"{max_weight / 0.2 * 100:,.1f}%"]
    assert limits["Max gross exposure"] == ["1.00×", f"{gross / 1.0 * 100:,.1f}%"]

    # A/B: the saved verdict and its deciding test's adjusted p-value
    tests = pd.read_parquet(run_store.run_folder(ab.run_id) / "tests.parquet")
    primary = tests[tests["role"] == "primary"].iloc[0]
    assert escape(ab.result.verdict) in html
    assert f"Deciding test: {escape(ab.result.primary_test)}." in html
    assert tables[2][primary["pair"]][1] == f"{primary['p_adjusted']:.4f}"

    # provenance: the data file's hash, the training data hash, the code version, the time
    digest = hashlib.sha256((ROOT / "data" / "ohlcv_daily.parquet").read_bytes()).hexdigest()
    assert tables[3]["ohlcv_daily"] == ["data/ohlcv_daily.parquet", digest]
    assert f"alpha v1 training data hash: {version.data_hash}" in html
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--tags"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"git {described}" in html
    assert "Generated 2026-01-05 07:00 UTC" in html
    assert "No saved walk-forward run of model alpha yet." in html


def test_strategy_pack_shows_backtests_walkforward_and_says_what_is_missing() -> None:
    bt = run_backtest(
        BacktestRequest(
            strategy="ma_crossover",
            params={"fast": 10, "slow": 50},
            start=date(2008, 1, 1),
            end=date(2011, 12, 31),
        )
    )
    ab = abtest.run_compare(
        CompareRequest(
            arms=[f"run:{bt.run_id}", "buy_and_hold", "donchian_breakout"],
            start=date(2008, 1, 1),
            end=date(2011, 12, 31),
            n_boot=200,
        )
    )
    folds = pd.DataFrame({"fold": [0, 1, 2], "oos_sharpe": [0.4, -0.1, 0.9]})
    oos = pd.DataFrame(
        {"equity": [1.0, 1.01, 1.02], "returns": [0.0, 0.01, 0.0099]},
        index=pd.bdate_range("2012-01-02", periods=3),
    )
    wf_id = run_store.save_run(
        kind="walkforward",
        title="walk-forward ma_crossover SP500",
        spec={"strategy": "ma_crossover", "dataset": "ohlcv_daily", "symbol": "SP500"},
        metrics={
            "deflated_sharpe": 0.6234,
            "pbo": 0.375,
            "oos_sharpe": 0.41,
            "is_sharpe": 1.12,
            "trials": 72,
        },
        frames={"folds": folds, "oos": oos},
    )

    html = render_html(build_pack("strategy", "ma_crossover", at=T0))
    tables = _tables(html)
    column = tables[0]["Metric"].index(f"Backtest run {bt.run_id}")
    curves = pd.read_parquet(run_store.run_folder(bt.run_id) / "curves.parquet")
    for label, text in _equity_figures(curves["equity"].to_numpy(), 100_000.0).items():
        assert tables[0][label][column] == text, label
    assert tables[0]["Trades"][column] == f"{bt.metrics['n_trades']:,.0f}"
    assert "No paper session traded this strategy yet." in html
    assert "No paper session trades strategy ma_crossover, so it holds no exposure" in html
    created = run_store.get_run(wf_id).created_at
    saved = (
        f"{created:%Y-%m-%d}"
        if created == created.replace(hour=0, minute=0, second=0, microsecond=0)
        else f"{created:%Y-%m-%d %H:%M}"
    )
    assert tables[1][str(wf_id)] == [
        "walk-forward ma_crossover SP500",
        saved,
        "0.623",
        "37.5%",
        "0.41",
        "1.12",
        "72",
        "3",
    ]
    # the pairs with the saved ma_crossover run are listed; buy-and-hold vs donchian is not
    ma, bh, donchian = pd.read_parquet(run_store.run_folder(ab.run_id) / "returns.parquet").columns
    assert escape(ab.result.verdict) in html
    assert set(tables[3]) - {"Pair"} == {f"{ma} vs {bh}", f"{ma} vs {donchian}"}

    empty = render_html(build_pack("strategy", "ts_momentum", at=T0))
    for text in (
        "No saved backtest of strategy ts_momentum yet.",
        "No paper session traded this strategy yet.",
        "No saved walk-forward run of strategy ts_momentum yet.",
        "No saved A/B comparison includes strategy ts_momentum yet.",
        "No dataset is behind these results yet.",
    ):
        assert text in empty


def test_bad_subjects_get_a_sentence() -> None:
    with pytest.raises(ValueError, match="Strategy nope is not one of the strategies"):
        ReportPackRequest(subject="nope")
    with pytest.raises(LookupError, match="No registered model is named ghost"):
        make_pack(ReportPackRequest(subject="ghost", kind="model", format="html"))


def test_make_pack_writes_the_html_it_rendered(tmp_path: Path) -> None:
    outcome = make_pack(ReportPackRequest(subject="ma_crossover", format="html"))
    assert outcome.pdf is None and outcome.html is not None
    text = outcome.html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Report pack: strategy ma_crossover" in text
    assert "<script" not in text and "http://" not in text and "https://" not in text
