"""The pages show the plain sentences: the field's label, integers as integers, no pydantic
phrasing, no field identifier, no CLI flag (AppTest through the router)."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from app.services import jobs
from app.services import runs as run_store
from tests.pages.helpers import RUN_SWEEP, open_app

LEAKS = re.compile(r"Value error|should match|Input should|String should|\d\.0\b|(?<!\w)--[a-z]")
RUN_WF = "FormSubmitter:wf.form-Run walk-forward"


def _errors(at: AppTest) -> list[str]:
    assert not at.exception, at.exception
    return [e.value for e in at.error]


def _clean(messages: list[str], *identifiers: str) -> None:
    for message in messages:
        assert not LEAKS.search(message), message
        assert not any(name in message for name in identifiers), message


def test_an_inverted_sweep_range_reads_as_a_sentence_beside_its_row() -> None:
    at = open_app("sweep")
    at.number_input(key="sw.ma_crossover.fast.lo").set_value(100)
    at.number_input(key="sw.ma_crossover.fast.hi").set_value(80)
    at.number_input(key="sw.ma_crossover.fast.step").set_value(1)
    at.button(key=RUN_SWEEP).click().run()
    errors = _errors(at)
    assert "Fast: stop 80 is below start 100." in errors, errors
    assert "Fix the grid ranges marked above; nothing was run." in errors
    _clean(errors)
    assert jobs.list_jobs() == []


def test_a_walkforward_step_below_the_test_window_names_both_fields_by_label() -> None:
    at = open_app("walkforward")
    at.number_input(key="wf.test_bars").set_value(250)
    at.number_input(key="wf.step").set_value(100)
    at.button(key=RUN_WF).click().run()
    errors = _errors(at)
    (message,) = [e for e in errors if "is below" in e]
    assert message.startswith("Step 100 is below Test bars 250: choose 250 or more"), message
    _clean(errors, "step_bars", "test_bars")
    assert run_store.list_runs(kind="walkforward") == [] and jobs.list_jobs() == []
