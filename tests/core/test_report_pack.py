"""The report pack's layout (core/reports/pack.py), its charts, its schedule slots and
its PDF printed by the real Chromium (core/reports/pdf.py)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.reports.pack import (
    ABVerdict,
    DataFile,
    DecidingTest,
    PerformanceColumn,
    ReportPack,
    RiskSection,
    SessionRisk,
    WalkForwardRow,
    render_html,
)
from core.reports.pack_schedule import due_slot, latest_slot, next_slot
from core.reports.pack_svg import growth_chart, utilization_bars
from core.reports.pdf import PdfError, page_count, print_pdf

AT = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
CHROMIUM = Path("/usr/bin/chromium")


def _pack(**changes: object) -> ReportPack:
    index = pd.bdate_range("2020-01-01", periods=300)
    equity = pd.Series(100_000 * np.cumprod(1 + np.full(300, 0.001)), index=index)
    fields: dict[str, object] = {
        "subject_kind": "model",
        "subject_name": "alpha<b>",
        "generated_at": AT,
        "code_version": "git v1.2-3-gabc",
        "performance": [
            PerformanceColumn(
                "backtest",
                "alpha v1",
                "ohlcv_daily/AAPL",
                {"total_return": 0.3493, "sharpe": 1.234, "max_drawdown": -0.1, "bars": 1234.0},
                equity,
            ),
            PerformanceColumn("paper", "Paper session p", "ohlcv_daily: AAPL", {"sharpe": 0.5}),
        ],
        "walkforward": [WalkForwardRow(3, "wf", AT, 0.91234, 0.25, 0.8, 1.5, 40, 5)],
        "risk": RiskSection(
            2,
            {
                "max_weight_per_asset": 0.25,
                "max_order_notional": 50_000.0,
                "var_method": "historical",
            },
            {"max_weight_per_asset": "a fraction of equity", "max_order_notional": "money"},
            [SessionRisk("p", 101_000.0, 0.8, 0.6, {"max_weight_per_asset": 1.2})],
        ),
        "abtests": [
            ABVerdict(
                9,
                "A/B x vs y",
                AT,
                "y beats x",
                "HAC paired t-test",
                500,
                [DecidingTest("x vs y", 0.01234, -1.5, "bp/day", True, "y")],
            )
        ],
        "data_files": [DataFile("ohlcv_daily", "data/ohlcv_daily.parquet", "ab" * 32)],
    }
    return ReportPack(**{**fields, **changes})  # type: ignore[arg-type]


def test_the_html_lays_out_every_section_with_formatted_numbers() -> None:
    html = render_html(_pack())
    assert "Report pack: model alpha&lt;b&gt;" in html and "<b>" not in html.split("<style>")[0]
    for text in (
        ">34.9%<",
        ">1.23<",
        ">-10.0%<",
        ">1,234<",  # backtest column
        ">0.912<",
        ">25.0%<",
        ">40<",  # walk-forward: DSR, PBO, trials
        "Limits in force: version 2.",
        ">$50,000.00<",
        ">historical<",
        ">120.0%<",
        "equity $101,000.00, gross 80.0%, net 60.0%",
        "y beats x",
        "Deciding test: HAC paired t-test.",
        ">0.0123<",
        "git v1.2-3-gabc",
        "ab" * 32,
        "Generated 2026-01-05 07:00 UTC",
    ):
        assert text in html, text
    assert html.count("<svg") == 2  # the growth chart and the utilization bars
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")


def test_empty_sections_say_so() -> None:
    html = render_html(
        _pack(
            subject_kind="strategy",
            subject_name="ts_momentum",
            performance=[],
            walkforward=[],
            abtests=[],
            data_files=[],
            risk=RiskSection(0, {"max_drawdown": 0.15}, {"max_drawdown": "a fraction"}),
        )
    )
    for text in (
        "No saved backtest of strategy ts_momentum yet.",
        "No paper session traded this strategy yet.",
        "No saved walk-forward run of strategy ts_momentum yet.",
        "built-in defaults (version 0)",
        "No paper session trades strategy ts_momentum, so it holds no exposure",
        "No saved A/B comparison includes strategy ts_momentum yet.",
        "No dataset is behind these results yet.",
    ):
        assert text in html, text
    assert "<svg" not in html
    missing = render_html(_pack(performance=[], risk=None))
    assert "No stored training run (out-of-sample backtest) of model alpha&lt;b&gt; yet." in missing
    assert "The risk limits could not be read." in missing


def test_charts_scale_each_curve_to_its_start_and_mark_breaches() -> None:
    index = pd.bdate_range("2021-01-01", periods=2000)
    doubled = pd.Series(np.linspace(50.0, 100.0, 2000), index=index)
    svg = growth_chart([("a", doubled), ("empty", pd.Series(dtype=float))])
    assert ">1.00<" in svg and ">2.00<" in svg and ">1.50<" in svg  # growth of 1, to 2
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) <= 601 and points[-1].startswith("708.0,")  # thinned, ends at the edge
    assert growth_chart([]) == ""
    bars = utilization_bars([("a", 0.5), ("b", 1.5), ("c", float("nan"))])
    assert bars.count('fill="#d62728"') == 1 and ">150.0%<" in bars and ">n/a<" in bars


def test_slots_follow_the_time_zone_and_the_weekday() -> None:
    # Paris is UTC+1 in January and UTC+2 in July: 07:00 local moves in UTC
    winter = latest_slot(
        "daily",
        "07:00",
        weekday=None,
        timezone="Europe/Paris",
        now=datetime(2026, 1, 7, 12, 0, tzinfo=UTC),
    )
    summer = latest_slot(
        "daily",
        "07:00",
        weekday=None,
        timezone="Europe/Paris",
        now=datetime(2026, 7, 7, 12, 0, tzinfo=UTC),
    )
    assert winter == datetime(2026, 1, 7, 6, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 7, 5, 0, tzinfo=UTC)
    friday = next_slot("weekly", "18:30", weekday=4, timezone="UTC", now=AT)
    assert friday == datetime(2026, 1, 9, 18, 30, tzinfo=UTC)
    assert latest_slot("weekly", "18:30", weekday=4, timezone="UTC", now=friday) == friday
    assert due_slot("daily", "07:00", weekday=None, timezone="UTC", created_at=AT, now=AT) == AT


def test_chromium_prints_the_pack_to_a_real_pdf(tmp_path: Path) -> None:
    html = tmp_path / "pack.html"
    html.write_text(render_html(_pack()), encoding="utf-8")
    out = print_pdf(html, tmp_path / "out" / "pack.pdf", chromium=CHROMIUM)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and page_count(data) >= 1
    # the text is drawn from embedded fonts: at least the page streams inflate and draw
    streams = [s.split(b"stream\n", 1)[-1] for s in data.split(b"endstream")[:-1]]
    drawn = [zlib.decompress(s.lstrip(b"\r\n")) for s in streams if s[:1] in (b"x", b"\nx")]
    assert any(b"Tj" in d or b"TJ" in d for d in drawn)
    assert list(tmp_path.joinpath("out").iterdir()) == [out]  # no temporary file left


def test_a_missing_chromium_says_what_to_install(tmp_path: Path) -> None:
    html = tmp_path / "pack.html"
    html.write_text("<p>x</p>", encoding="utf-8")
    with pytest.raises(
        PdfError, match=r"no Chromium at /nowhere/chromium .*apt-get install chromium"
    ):
        print_pdf(html, tmp_path / "x.pdf", chromium=Path("/nowhere/chromium"))
    with pytest.raises(PdfError, match="WORKBENCH_CHROMIUM_PATH"):
        print_pdf(html, tmp_path / "x.pdf", chromium=Path("no-such-browser-here"))
    assert not (tmp_path / "x.pdf").exists()
