"""After a promote or a rollback the Model registry page tells the browser to clear both
forms' reasons and confirmation ticks (found by the browser journey: popping the widgets'
keys reset them on the server only, and the browser kept showing and sending the old
reason)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import registry
from app.services.training import train
from tests.pages.helpers import open_app

PROMOTE = "FormSubmitter:registry.promote-Promote to champion"
ROLLBACK = "FormSubmitter:registry.rollback-Roll back"


def _pushed_empty(at: AppTest, form: str) -> bool:
    """The form's reason and tick were sent to the browser as set, empty values (a
    widget's ``set_value`` makes the browser overwrite what it shows)."""
    reason = at.text_input(key=f"registry.{form}.reason")
    tick = at.checkbox(key=f"registry.{form}.confirm")
    return (
        reason.proto.set_value
        and reason.proto.value == ""
        and tick.proto.set_value
        and tick.proto.value is False
    )


def test_each_action_clears_both_forms_in_the_browser() -> None:
    features = ["ret_1", "ret_5"]
    versions = []
    for c in (1.0, 0.01):
        outcome = train(TrainRequest(kind="logistic", features=features, params={"C": c}))
        assert outcome.run_id is not None
        versions.append(registry.register(RegisterRequest(run_id=outcome.run_id, name="alpha")))
    v1, v2 = versions
    at = open_app("registry")
    for version, reason in ((v1, "first champion"), (v2, "better AUC")):
        at.selectbox(key="registry.promote.version").set_value(version.id)
        at.text_input(key="registry.promote.reason").set_value(reason)
        at.checkbox(key="registry.promote.confirm").check()
        at.button(key=PROMOTE).click().run()
        assert not at.exception, at.exception
        assert any(f"alpha v{version.version} is now the champion." in s.value for s in at.success)
        assert _pushed_empty(at, "promote")
    at.text_input(key="registry.rollback.reason").set_value("v2 misbehaves live")
    at.checkbox(key="registry.rollback.confirm").check()
    at.button(key=ROLLBACK).click().run()
    assert not at.exception, at.exception
    assert any("Rolled back alpha: v1 is the champion again." in s.value for s in at.success)
    assert _pushed_empty(at, "rollback") and _pushed_empty(at, "promote")


def test_the_pickers_keep_their_choice_across_a_promotion() -> None:
    """A picker keeps its choice by its label: the compare pickers name a version by what
    never changes (no stage), the rollback picker a model by its name (its champion is in
    the caption); before, each promotion dropped both choices."""
    features = ["ret_1", "ret_5"]
    v1, v2, v3 = (
        registry.register(
            RegisterRequest(
                run_id=train(
                    TrainRequest(kind="logistic", features=features, params={"C": c})
                ).run_id
                or 0,
                name="alpha",
            )
        )
        for c in (1.0, 0.1, 0.01)
    )
    at = open_app("registry")
    at.selectbox(key="registry.compare.a").set_value(v1.id)
    at.selectbox(key="registry.compare.b").set_value(v3.id).run()
    for version in (v1, v2):
        at.selectbox(key="registry.promote.version").set_value(version.id)
        at.text_input(key="registry.promote.reason").set_value("next")
        at.checkbox(key="registry.promote.confirm").check()
        at.button(key=PROMOTE).click().run()
        assert not at.exception, at.exception
        assert at.selectbox(key="registry.compare.a").value == v1.id
        assert at.selectbox(key="registry.compare.b").value == v3.id
        assert at.selectbox(key="registry.rollback.name").value == "alpha"
        assert any(f"Champions now: alpha v{version.version}." in c.value for c in at.caption)
    assert at.selectbox(key="registry.compare.a").options[0].startswith("alpha v3 · logistic")
    assert at.selectbox(key="registry.promote.version").options == [
        f"alpha v3 · candidate · logistic · AUC {v3.metrics['roc_auc']:.4f} · id {v3.id}",
        f"alpha v1 · archived · logistic · AUC {v1.metrics['roc_auc']:.4f} · id {v1.id}",
    ]
