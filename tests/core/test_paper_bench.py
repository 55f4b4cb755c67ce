"""Smoke test of the paper bench section: its keys and an invariant, never a time."""

from __future__ import annotations

from core.paper.bench import bench_paper, summary


def test_the_paper_bench_reports_every_figure_with_its_target() -> None:
    report = bench_paper(repeats=1, cycles=3)
    rate = report["replay_cycles_per_s_one_symbol"]
    assert rate["target"] == 1_000 and rate["median"] > 0
    five = report["cycle_ms_five_symbols"]
    assert five["target_p99"] == 5 and five["n"] == 3
    assert five["median"] <= five["p95"] <= five["p99"]
    sql = report["sql_statements_per_cycle"]
    assert 0 < sql["one_symbol"] < sql["before_one_symbol"]
    assert report["per_bar"]["commits_per_cycle"]["one_symbol"] == 1  # one per bar
    assert "cycles/s replay" in summary(report)
