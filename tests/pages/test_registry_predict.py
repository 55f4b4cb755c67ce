"""Batch prediction on the Model registry page: a job, its summary and its CSV download."""

from __future__ import annotations

import numpy as np

from app.operations.predict import PredictRequest
from app.operations.registry import RegisterRequest
from app.operations.training import TrainRequest
from app.services import jobs, registry
from app.services.predict import run_predict
from app.services.training import train
from tests.pages.helpers import open_app

SCORE = "FormSubmitter:predict.form-Score the bars"


def test_scoring_two_symbols_is_a_job_whose_numbers_equal_a_direct_run() -> None:
    trained = train(TrainRequest(kind="logistic", features=["ret_1", "ret_5", "rsi_14"]))
    assert trained.run_id is not None
    version = registry.register(RegisterRequest(run_id=trained.run_id, name="alpha"))
    at = open_app("registry")
    assert any(h.value == "Batch prediction" for h in at.subheader)
    at.selectbox(key="predict.model").set_value(version.id)
    at.multiselect(key="predict.symbols.ohlcv_daily").set_value(["SP500", "AAPL"])
    at.button(key=SCORE).click().run()
    assert not at.exception, at.exception
    (job,) = jobs.list_jobs(kind="predict")
    assert job.status == "queued"
    assert jobs.run_pending() == 1
    at.run()
    assert not at.exception, at.exception

    request = jobs.request_of(jobs.get_job(job.id))
    assert isinstance(request, PredictRequest) and request.symbols == ["SP500", "AAPL"]
    direct = run_predict(request)  # the same request scored here
    table = next(d.value for d in at.dataframe if list(d.value.columns)[:2] == ["symbol", "rows"])
    expected = direct.per_symbol()
    assert list(table["symbol"]) == ["SP500", "AAPL"]
    assert list(table["rows"]) == [expected[s]["rows"] for s in ("SP500", "AAPL")]
    np.testing.assert_array_equal(
        table["last_probability"].to_numpy(float),
        [expected[s]["last_probability"] for s in ("SP500", "AAPL")],
    )
    (download,) = [
        b for b in at.get("download_button") if b.proto.label.startswith("Download prob")
    ]
    assert download.proto.label == "Download probabilities (CSV)"
