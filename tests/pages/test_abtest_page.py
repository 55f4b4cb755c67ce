"""A/B compare page: what the user sees — the verdict, its deciding test, primary vs secondary,
arms named as the user knows them, numbers in their units."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import stats

from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import abtest as ab
from app.services import jobs, registry, training
from app.services import runs as run_store
from tests.core.test_abtest import _hac_se_by_hand
from tests.pages.helpers import metrics, open_app

PAIR = "buy_and_hold vs ma_crossover (fast=20, slow=100)"


def _compare(at, boot: int = 200):  # type: ignore[no-untyped-def]
    at.number_input(key="ab.boot").set_value(boot)
    at.button(key="ab.compare").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []
    assert jobs.run_pending() == 1  # the comparison (bootstrap) runs as a job
    at.run()
    assert not at.exception, at.exception
    return at


def _direct():  # type: ignore[no-untyped-def]
    """The page's last request, compared here by the service (seeded: same resamples)."""
    job = jobs.list_jobs(kind="abtest")[0]
    assert job.status == "done", job
    return ab.run_compare(jobs.request_of(job), save=False)  # type: ignore[arg-type]


def _verdict(at) -> str:  # type: ignore[no-untyped-def]
    return next(b.value for b in [*at.success, *at.info] if b.value.startswith("**Verdict:**"))


def _p_text(p: float) -> str:
    """The p-value as the page should show it, written out here: 2 significant digits,
    scientific below 0.001."""
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def test_two_arms_by_default_give_one_pair_and_a_verdict_naming_the_primary_test() -> None:
    at = open_app("abtest")
    assert at.radio(key="ab.C.source").value == "none"  # arm C is off by default
    _compare(at)
    verdict = _verdict(at)
    # The SP500 pair: buy_and_hold vs ma_crossover(20, 100).
    assert verdict.startswith(
        "**Verdict:** no significant difference (decided by HAC paired t-test: Holm-adjusted p="
    )
    assert verdict.endswith(">= alpha=0.05); at the observed mean difference, 80% power would "
                            "need over 100 years of data")  # fmt: skip
    shown = metrics(at)
    assert (shown["Arms"], shown["Pairs"]) == ("2", "1")
    assert shown["Common days"] == "5,030"
    texts = [m.value for m in at.markdown]
    assert any(
        t.startswith("**Decided by:** HAC paired t-test: paired t-test of daily") for t in texts
    )
    assert any(t.startswith("**Secondary tests**") and "never decide" in t for t in texts)
    direct = _direct()
    first, last = (f"{direct.returns.index[i]:%Y-%m-%d}" for i in (0, -1))
    period = (
        f"Arms: buy_and_hold, ma_crossover (fast=20, slow=100). Compared on their common "
        f"days from {first} to {last}."
    )
    assert any(c.value.startswith(period) for c in at.caption), [c.value for c in at.caption]
    assert shown["Days needed"] == "n/a" or shown["Days needed"].replace(",", "").isdigit()

    primary = at.dataframe[0].value
    assert list(primary["Test"]) == ["HAC paired t-test"]
    assert list(primary["Pair"]) == [PAIR]
    # The p-value is the HAC t-test's, recomputed here from the compared returns.
    returns = direct.returns.to_numpy()
    d = returns[:, 0] - returns[:, 1]
    d[np.abs(d) <= 1e-12] = 0.0
    n = d.size
    t = d.mean() / _hac_se_by_hand(d, math.floor(4 * (n / 100) ** (2 / 9)))
    p = 2 * stats.t.sf(abs(t), n - 1)
    row = direct.result.primary_rows()[0]
    assert row.p_value == pytest.approx(p, rel=1e-8)
    assert row.p_adjusted == pytest.approx(p, rel=1e-8)  # one pair: no adjustment
    assert primary["p-value"].iloc[0] == _p_text(p) == primary["Adjusted p"].iloc[0]
    assert f"p={_p_text(p)}" in verdict
    # The mean daily difference in basis points, its 95% interval beside it.
    assert primary["Estimate (first - second)"].iloc[0] == f"{d.mean() * 1e4:.2f} bp/day"
    low, high = re.fullmatch(r"\[(.+), (.+)\] bp/day", primary["95% CI"].iloc[0]).groups()
    assert float(low) < d.mean() * 1e4 < float(high)

    secondary = at.dataframe[1].value
    assert "HAC paired t-test" not in set(secondary["Test"])
    wilcoxon = secondary[secondary["Test"] == "Wilcoxon signed-rank"]
    assert "zero_method='wilcox'" in wilcoxon["Note"].iloc[0]
    # On this pair ~1,458 differences are rounding residues (0 < |d| <= 4.4e-16) on days
    # both arms are invested; Wilcoxon's p-value is the one with those zeroed.
    raw = returns[:, 0] - returns[:, 1]
    assert np.count_nonzero((raw != 0) & (np.abs(raw) <= 1e-12)) > 1000
    assert wilcoxon["p-value"].iloc[0] == _p_text(stats.wilcoxon(d).pvalue)
    by_test = dict(zip(secondary["Test"], secondary["Estimate (first - second)"], strict=True))
    sharpe = {r.test: r.estimate for r in direct.result.tests}
    assert by_test["Sharpe difference (JKM)"] == f"{sharpe['Sharpe difference (JKM)']:.2f}"
    drawdown = sharpe["max drawdown difference (bootstrap)"]
    assert by_test["max drawdown difference (bootstrap)"] == f"{100 * drawdown:.1f}%"
    # No raw float anywhere in the tables (the 16-digit floats).
    for table in (primary, secondary):
        cells = table.drop(columns=["Note"]).astype(str).to_numpy().ravel()
        assert not [c for c in cells if re.search(r"\d\.\d{5,}", c)], cells
    assert list(secondary["Adjusted p"]) == [
        "–" if math.isnan(r.p_adjusted) else _p_text(r.p_adjusted) for r in direct.result.tests[1:]
    ]
    # What was stored names the deciding test too.
    run = run_store.get_run(at.session_state["ab.run_id"])
    assert run.metrics["primary_test"] == "HAC paired t-test"
    assert run.metrics["verdict"] == verdict.removeprefix("**Verdict:** ")
    assert run.title == f"A/B {PAIR}"

    # The sequential test (SPRT) in plain words, then the sample-size calculator.
    sprt = at.dataframe[2].value
    assert list(sprt.columns) == ["Claim", "Decision", "Days used", "Days available"]
    assert list(sprt["Claim"]) == [
        "ma_crossover (fast=20, slow=100) beats the other by 1 bp/day",
        "buy_and_hold beats the other by 1 bp/day",
    ]
    assert set(sprt["Decision"]) <= {
        "claim accepted: stop",
        "claim rejected: stop",
        "undecided: keep testing",
    }
    assert set(sprt["Days available"]) == {"5,030"}
    at.button(key="FormSubmitter:ab.size_form-Calculate").click().run()
    expected = ab.days_needed(0.5, sharpe_b=0.5, correlation=0.5, alpha=0.05, power=0.8)
    assert metrics(at)["Trading days needed"] == f"{expected:,}"


def test_a_third_arm_only_when_asked_and_then_three_pairs_are_adjusted() -> None:
    at = open_app("abtest")
    at.radio(key="ab.C.source").set_value("strategy").run()  # C: ma_crossover, its defaults
    assert at.selectbox(key="ab.C.strategy").value == "ma_crossover"
    _compare(at)
    assert len(jobs.request_of(jobs.list_jobs(kind="abtest")[0]).arms) == 3  # type: ignore[attr-defined]
    shown = metrics(at)
    assert (shown["Arms"], shown["Pairs"]) == ("3", "3")
    primary = at.dataframe[0].value
    assert list(primary["Pair"]) == [
        PAIR,
        "buy_and_hold vs ma_crossover",
        "ma_crossover (fast=20, slow=100) vs ma_crossover",
    ]
    rows = _direct().result.primary_rows()
    raw = np.array([r.p_value for r in rows])
    # Holm by hand over the three primary p-values.
    order = np.argsort(raw)
    holm = np.empty(3)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        holm[i] = running
    np.testing.assert_allclose([r.p_adjusted for r in rows], holm, rtol=1e-12)
    assert list(primary["Adjusted p"]) == [_p_text(p) for p in holm]


def test_model_arms_are_named_by_model_name_and_version() -> None:
    features = ["ret_1", "ret_5", "rsi_14", "vol_21"]
    versions = []
    for horizon in (5, 10):
        run = training.train(TrainRequest(kind="logistic", features=features, horizon=horizon))
        assert run.run_id is not None
        versions.append(registry.register(RegisterRequest(run_id=run.run_id, name="momentum_lr")))
    at = open_app("abtest")
    for arm in "AB":
        at.radio(key=f"ab.{arm}.source").set_value("model").run()
    pickers = [at.selectbox(key=f"ab.{arm}.model") for arm in "AB"]
    assert [p.value for p in pickers] == [versions[1].id, versions[0].id]  # newest first
    assert pickers[0].options[:2] == [
        f"momentum_lr v2 (candidate, #{versions[1].id})",
        f"momentum_lr v1 (candidate, #{versions[0].id})",
    ]
    _compare(at)
    verdict = _verdict(at)
    assert "model:" not in verdict
    assert "decided by HAC paired t-test" in verdict
    assert list(at.dataframe[0].value["Pair"]) == ["momentum_lr v2 vs momentum_lr v1"]
    assert set(at.dataframe[1].value["Pair"]) == {"momentum_lr v2 vs momentum_lr v1"}
    claims = list(at.dataframe[2].value["Claim"])
    assert claims[0].startswith("momentum_lr v1 beats")
    run = run_store.get_run(at.session_state["ab.run_id"])
    assert run.title == "A/B momentum_lr v2 vs momentum_lr v1"
    assert list(run_store.load_frame(run, "returns").columns) == [
        "momentum_lr v2",
        "momentum_lr v1",
    ]
    # The job's result (what the CLI, the API and the Jobs page show) names them too.
    result = jobs.list_jobs(kind="abtest")[0].result or {}
    assert {tuple(t["pair"]) for t in result["tests"]} == {("momentum_lr v2", "momentum_lr v1")}
    assert "model:" not in result["verdict"]


def test_bad_parameters_are_named_by_their_field_and_nothing_is_queued() -> None:
    at = open_app("abtest")
    cases = {
        "fast=20, slow": "Arm B parameters: write each parameter as name=value, comma "
        "separated (e.g. fast=20, slow=100).",
        "fst=20": "Arm B parameters: ma_crossover has no parameter 'fst'; use allow_short, "
        "entry, fast, slow.",
        "fast=0, slow=5": "Arm B parameters: fast must be an integer in [1, 100000] (bars), got 0.",
    }
    for text, message in cases.items():
        at.text_input(key="ab.B.params").set_value(text)
        at.button(key="ab.compare").click().run()
        assert not at.exception, at.exception
        assert [e.value for e in at.error] == [message]
    assert jobs.list_jobs(kind="abtest") == []
