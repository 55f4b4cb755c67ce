"""The Model registry page: versions table, compare, promote and roll back with an audit trail."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import registry
from app.services.training import train
from core.registry import VersionRow
from tests.pages.helpers import open_app, plotly_array

PROMOTE = "FormSubmitter:registry.promote-Promote to champion"
ROLLBACK = "FormSubmitter:registry.rollback-Roll back"


def _register_two() -> tuple[VersionRow, VersionRow]:
    """Two versions of one model from two small, fast training runs (one run registers
    once)."""
    features = ["ret_1", "ret_5", "rsi_14", "vol_21"]
    versions = []
    for c in (1.0, 0.01):
        outcome = train(TrainRequest(kind="logistic", features=features, params={"C": c}))
        assert outcome.run_id is not None
        versions.append(registry.register(RegisterRequest(run_id=outcome.run_id, name="alpha")))
    return versions[0], versions[1]


def _stages() -> dict[int, str]:
    return {v.id: v.stage for v in registry.list_versions()}


def _tables(at: AppTest) -> dict[str, pd.DataFrame]:
    """Registry, comparison and audit tables, in page order."""
    frames = [d.value for d in at.dataframe]
    return {"registry": frames[0], "compare": frames[1], "audit": frames[-1]}


def _promote(at: AppTest, version_id: int, reason: str, *, confirm: bool = True) -> None:
    at.selectbox(key="registry.promote.version").set_value(version_id)
    at.text_input(key="registry.promote.reason").set_value(reason)
    at.checkbox(key="registry.promote.confirm").set_value(confirm)
    at.button(key=PROMOTE).click().run()
    assert not at.exception, at.exception


def test_empty_registry_says_how_to_fill_it() -> None:
    at = open_app("registry")
    assert at.title[0].value == "Model registry"
    assert any("Train one on the Training page" in i.value for i in at.info)
    assert any("No registry events yet" in i.value for i in at.info)


def test_promote_then_roll_back_changes_stages_and_writes_the_audit_trail() -> None:
    v1, v2 = _register_two()
    at = open_app("registry")
    table = _tables(at)["registry"]
    assert list(table["id"]) == [v2.id, v1.id]
    assert list(table["stage"]) == ["candidate", "candidate"]
    assert list(table["ROC-AUC"]) == [v2.metrics["roc_auc"], v1.metrics["roc_auc"]]
    assert table["train range"].iloc[0] == f"{v2.train_start} → {v2.train_end}"

    # Side by side: both versions as columns named by label, numbers in their units.
    compare = _tables(at)["compare"]
    assert list(compare.columns) == ["differs", "alpha v2", "alpha v1"]
    for v in (v2, v1):
        column = compare[v.label]
        assert column["ROC-AUC"] == f"{v.metrics['roc_auc']:.4f}"
        assert column["Accuracy"] == f"{100 * v.metrics['accuracy']:.2f}%"
        assert column["Training run"] == f"#{v.metrics['run_id']}"
        assert column["param: C"] == f"{v.params['C']:g}"
        assert column["Training data"] == f"{v.train_start} → {v.train_end}"
        assert column["Stage"] == "candidate"
    assert compare.loc["param: C", "differs"] == "≠" and compare.loc["Kind", "differs"] == ""
    cells = [str(x) for x in compare.to_numpy().ravel()]
    assert not [c for c in cells if len(c.split(".")[-1]) > 6 and c.replace(".", "").isdigit()]

    # Without the confirmation nothing happens.
    _promote(at, v1.id, "first champion", confirm=False)
    assert any("Tick the confirmation box" in e.value for e in at.error)
    assert _stages() == {v1.id: "candidate", v2.id: "candidate"}

    _promote(at, v1.id, "first champion")
    assert [e.value for e in at.error] == []
    assert _stages() == {v1.id: "champion", v2.id: "candidate"}
    assert any("alpha v1 is now the champion" in s.value for s in at.success)
    shown = _tables(at)["registry"]
    assert dict(zip(shown["id"], shown["stage"], strict=True)) == {
        v1.id: "champion",
        v2.id: "candidate",
    }

    _promote(at, v2.id, "better AUC")
    assert _stages() == {v1.id: "archived", v2.id: "champion"}

    at.selectbox(key="registry.rollback.name").set_value("alpha")
    at.text_input(key="registry.rollback.reason").set_value("v2 misbehaves live")
    at.checkbox(key="registry.rollback.confirm").check()
    at.button(key=ROLLBACK).click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error] == []
    assert _stages() == {v1.id: "champion", v2.id: "archived"}
    assert any("Rolled back alpha: v1 is the champion again" in s.value for s in at.success)

    audit = _tables(at)["audit"]
    actions = list(zip(audit["action"], audit["version"], audit["reason"], strict=True))
    assert actions == [
        ("restore", "alpha v1", "v2 misbehaves live"),
        ("rollback", "alpha v2", "v2 misbehaves live"),
        ("promote", "alpha v2", "better AUC"),
        ("archive", "alpha v1", "replaced by v2"),
        ("promote", "alpha v1", "first champion"),
        ("register", "alpha v2", f"from training run {v2.metrics['run_id']}"),
        ("register", "alpha v1", f"from training run {v1.metrics['run_id']}"),
    ]
    assert list(audit["version_id"]) == [v1.id, v2.id, v2.id, v1.id, v1.id, v2.id, v1.id]
    assert [e["action"] for e in registry.events()] == list(audit["action"])


def test_a_user_without_the_pm_role_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    v1, _ = _register_two()
    monkeypatch.setenv("WORKBENCH_USER", "ann")
    monkeypatch.setenv("WORKBENCH_ROLES", "analyst")
    at = open_app("registry")
    _promote(at, v1.id, "please")
    assert any("promoting a model needs the 'pm' role" in e.value for e in at.error)
    assert set(_stages().values()) == {"candidate"}
    assert [e["action"] for e in registry.events()] == ["register", "register"]


def test_confirmation_boxes_reset_after_each_action() -> None:
    """A tick confirms one action: after a promote (or rollback) the boxes are unticked
    again, so the next action needs a new tick (before, the tick carried over)."""
    v1, v2 = _register_two()
    at = open_app("registry")
    _promote(at, v1.id, "first champion")
    assert _stages() == {v1.id: "champion", v2.id: "candidate"}
    assert at.checkbox(key="registry.promote.confirm").value is False
    assert at.text_input(key="registry.promote.reason").value == ""

    # A second promote without a new tick is refused and changes nothing.
    at.selectbox(key="registry.promote.version").set_value(v2.id)
    at.text_input(key="registry.promote.reason").set_value("better AUC")
    at.button(key=PROMOTE).click().run()
    assert any("Tick the confirmation box to promote" in e.value for e in at.error)
    assert _stages() == {v1.id: "champion", v2.id: "candidate"}
    at.checkbox(key="registry.promote.confirm").check()
    at.button(key=PROMOTE).click().run()
    assert _stages() == {v1.id: "archived", v2.id: "champion"}
    assert at.checkbox(key="registry.promote.confirm").value is False

    # The same for rollback: one tick, one rollback.
    at.selectbox(key="registry.rollback.name").set_value("alpha")
    at.text_input(key="registry.rollback.reason").set_value("v2 misbehaves live")
    at.checkbox(key="registry.rollback.confirm").check()
    at.button(key=ROLLBACK).click().run()
    assert _stages() == {v1.id: "champion", v2.id: "archived"}
    assert at.checkbox(key="registry.rollback.confirm").value is False
    at.text_input(key="registry.rollback.reason").set_value("again")
    at.button(key=ROLLBACK).click().run()
    assert any("Tick the confirmation box to roll back" in e.value for e in at.error)
    assert _stages() == {v1.id: "champion", v2.id: "archived"}


# ----- the model loop: live A/B tests, pending promotions, retention ------------------------


def _live_test(challenger_id: int) -> int:
    """A stored live test that accepted H1 after 3 bars (as the shadow observer writes it)."""
    from app.services.db import get_engine
    from core.store.db import session_scope
    from core.store.model_loop import LiveTest, LiveTestPoint

    with session_scope(get_engine()) as s:
        test = LiveTest(
            session_id=1,
            session_name="live-a",
            champion="alpha@champion",
            challenger=f"alpha:{challenger_id}",
            challenger_version_id=challenger_id,
            state="decided",
            decision="accept_h1",
            log_lr=3.1,
            n=3,
            upper=2.773,
            lower=-1.558,
            delta=1e-4,
            alpha=0.05,
            beta=0.2,
            promotion="approval",
            rule="Wald SPRT ... Decided: log LR 3.100 >= 2.773 after 3 bars: accept H1",
            last_t=12,
            books={},
        )
        s.add(test)
        s.flush()
        for n, (t, lr) in enumerate([(10, 0.5), (11, 1.9), (12, 3.1)], start=1):
            s.add(
                LiveTestPoint(
                    test_id=test.id,
                    t=t,
                    ts=f"2020-01-{t:02d}",
                    n=n,
                    champion_return=0.0,
                    challenger_return=0.01,
                    log_lr=lr,
                    decision="accept_h1" if n == 3 else "continue",
                )
            )
        return test.id


def test_the_running_test_is_charted_with_its_boundaries_and_rule() -> None:
    _, v2 = _register_two()
    test_id = _live_test(v2.id)
    at = open_app("registry")
    text = " ".join(m.value for m in at.markdown)
    assert f"#{test_id} · session live-a" in text
    assert "**accept_h1** after n = 3 bars, log LR 3.100 (promotion: approval)" in text
    assert any("accept H1" in c.value for c in at.caption)
    (chart,) = [c for c in at.get("plotly_chart") if "Live test" in c.proto.spec]
    spec = json.loads(chart.proto.spec)
    (trace,) = spec["data"]
    assert trace["name"] == "log LR"
    assert plotly_array(trace["y"]).tolist() == [0.5, 1.9, 3.1]
    bounds = sorted(shape["y0"] for shape in spec["layout"]["shapes"])
    assert bounds == [-1.558, 2.773]


def test_a_pm_approves_a_pending_promotion_on_the_page() -> None:
    from app.services.db import get_engine
    from core.registry.promotion import request_promotion
    from core.store.db import session_scope

    _, v2 = _register_two()
    with session_scope(get_engine()) as s:
        request_id = request_promotion(
            s, version_id=v2.id, rule="live test #1: accept H1", policy="approval"
        ).id
    at = open_app("registry")
    assert any(
        f"Request #{request_id}**: promote alpha v2 — live test #1" in m.value for m in at.markdown
    )
    at.text_input(key=f"pr.{request_id}").set_value("SPRT says so")
    at.button(key=f"FormSubmitter:registry.promotion.{request_id}-Approve").click().run()
    assert not at.exception, at.exception
    assert _stages()[v2.id] == "champion"
    assert any(f"Request #{request_id} approved." in s.value for s in at.success)
    assert any("No promotion waits for approval" in i.value for i in at.info)
    promote = next(e for e in registry.events() if e["action"] == "promote")
    assert promote["reason"].startswith("approved by local: SPRT says so; live test #1")


def test_retention_on_the_page_shows_the_plan_then_deletes_with_a_confirmation() -> None:
    v1, v2 = _register_two()
    registry.promote(registry_promote_request(v1.id))
    at = open_app("registry")
    at.number_input(key="registry.retain.keep").set_value(0).run()
    (table,) = [d.value for d in at.dataframe if "why" in d.value.columns]
    assert dict(zip(table["id"], table["action"], strict=True)) == {v2.id: "delete", v1.id: "keep"}
    at.button(key="FormSubmitter:registry.retain-Apply retention").click().run()
    assert any("Tick the confirmation box to delete" in e.value for e in at.error)
    assert _stages() == {v1.id: "champion", v2.id: "candidate"}
    at.checkbox(key="registry.retain.confirm").check()
    at.button(key="FormSubmitter:registry.retain-Apply retention").click().run()
    assert not at.exception, at.exception
    assert _stages() == {v1.id: "champion", v2.id: "deleted"}
    assert any("Retention deleted 1 artifact(s)." in s.value for s in at.success)
    assert registry.events()[0]["action"] == "retention_delete"


def registry_promote_request(version_id: int):
    from app.operations.registry import PromoteRequest

    return PromoteRequest(version_id=version_id, reason="champion")
