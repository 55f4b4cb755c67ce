"""A/B compare page: what the user sees — the verdict, its deciding test, primary vs secondary."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from app.services import abtest as ab
from app.services import jobs
from app.services import runs as run_store
from tests.core.test_abtest import _hac_se_by_hand
from tests.pages.helpers import metrics, open_app


def _compare(at, boot: int = 300):  # type: ignore[no-untyped-def]
    at.number_input(key="ab.boot").set_value(boot)
    at.button(key="FormSubmitter:ab.form-Compare").click().run()
    assert not at.exception, at.exception
    assert jobs.run_pending() == 1  # the comparison (bootstrap) runs as a job
    at.run()
    assert not at.exception, at.exception
    return at


def _direct():  # type: ignore[no-untyped-def]
    """The page's last request, compared here by the service (seeded: same resamples)."""
    job = jobs.list_jobs(kind="abtest")[0]
    assert job.status == "done", job
    return ab.run_compare(jobs.request_of(job), save=False)  # type: ignore[arg-type]


def test_two_arms_by_default_give_one_pair_and_a_verdict_naming_the_primary_test() -> None:
    at = open_app("abtest")
    assert at.radio(key="ab.C.source").value == "none"  # arm C is off by default
    _compare(at)
    verdict = next(b.value for b in [*at.success, *at.info] if b.value.startswith("**Verdict:**"))
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

    primary = at.dataframe[0].value
    assert list(primary["test"]) == ["HAC paired t-test"]
    assert list(primary["pair"]) == ["buy_and_hold vs ma_crossover:fast=20, slow=100"]
    # The p-value shown is the HAC t-test's, recomputed here from the compared returns.
    returns = _direct().returns.to_numpy()
    d = returns[:, 0] - returns[:, 1]
    d[np.abs(d) <= 1e-12] = 0.0
    n = d.size
    t = d.mean() / _hac_se_by_hand(d, math.floor(4 * (n / 100) ** (2 / 9)))
    p = 2 * stats.t.sf(abs(t), n - 1)
    assert primary["p_value"].iloc[0] == pytest.approx(p, rel=1e-8)
    assert primary["p_adjusted"].iloc[0] == pytest.approx(p, rel=1e-8)  # one pair: no adjustment
    assert f"p={p:.2g}" in verdict

    secondary = at.dataframe[1].value
    assert "HAC paired t-test" not in set(secondary["test"])
    wilcoxon = secondary[secondary["test"] == "Wilcoxon signed-rank"]
    assert "zero_method='wilcox'" in wilcoxon["note"].iloc[0]
    # On this pair ~1,458 differences are rounding residues (0 < |d| <= 4.4e-16) on days
    # both arms are invested; Wilcoxon's p-value is the one with those zeroed.
    raw = returns[:, 0] - returns[:, 1]
    assert np.count_nonzero((raw != 0) & (np.abs(raw) <= 1e-12)) > 1000
    assert wilcoxon["p_value"].iloc[0] == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-10)
    assert stats.wilcoxon(raw).pvalue < 0.9 * wilcoxon["p_value"].iloc[0]
    # What was stored names the deciding test too.
    run = run_store.get_run(at.session_state["ab.run_id"])
    assert run.metrics["primary_test"] == "HAC paired t-test"
    assert run.metrics["verdict"] == verdict.removeprefix("**Verdict:** ")


def test_a_third_arm_only_when_asked_and_then_three_pairs_are_adjusted() -> None:
    at = open_app("abtest")
    at.radio(key="ab.C.source").set_value("strategy")  # C: ma_crossover with its defaults
    _compare(at)
    assert len(jobs.request_of(jobs.list_jobs(kind="abtest")[0]).arms) == 3  # type: ignore[attr-defined]
    shown = metrics(at)
    assert (shown["Arms"], shown["Pairs"]) == ("3", "3")
    primary = at.dataframe[0].value
    raw = primary["p_value"].to_numpy()
    # Holm by hand over the three primary p-values.
    order = np.argsort(raw)
    holm = np.empty(3)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        holm[i] = running
    np.testing.assert_allclose(primary["p_adjusted"].to_numpy(), holm, rtol=1e-12)


def test_ab_page_shows_verdict_table_and_sample_size() -> None:
    at = _compare(open_app("abtest"))
    outcome = _direct()
    boxes = [b.value for b in [*at.success, *at.info]]
    assert any(outcome.result.verdict in b for b in boxes)
    assert metrics(at)["Common days"] == f"{outcome.result.n_obs:,}"
    primary, secondary = at.dataframe[0].value, at.dataframe[1].value
    rows = outcome.result.tests
    assert list(primary["p_adjusted"]) == pytest.approx([r.p_adjusted for r in rows[:1]])
    assert list(secondary["p_adjusted"]) == pytest.approx(
        [r.p_adjusted for r in rows[1:]], nan_ok=True
    )
    at.button(key="FormSubmitter:ab.size_form-Calculate").click().run()
    expected = ab.days_needed(0.5, sharpe_b=0.5, correlation=0.5, alpha=0.05, power=0.8)
    assert metrics(at)["Trading days needed"] == f"{expected:,}"
