"""The typed client (clients/python) against a live ``workbench api`` process and a jobs
worker: every method once, with real effects checked, and each error class on its status.
The client imports neither ``core`` nor ``app`` (an AST scan) and installs with pip as its
own package (mypy --strict on it belongs in ``make lint``)."""

from __future__ import annotations

import ast
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import CLIENT_PATH, Stack
from tests.polling import wait_until

sys.path.insert(0, str(CLIENT_PATH))  # as PYTHONPATH=clients/python does for a notebook

from workbench_client import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    WorkbenchClient,
    WorkbenchError,
)

pytestmark = pytest.mark.timeout(300)
PACKAGE = CLIENT_PATH / "workbench_client"
SMALL_GRID = {
    "fast": {"start": 5, "stop": 20, "step": 5},
    "slow": {"start": 30, "stop": 60, "step": 10},
}


@pytest.fixture(scope="module")
def wb(stack: Stack) -> Iterator[WorkbenchClient]:
    """A client with every role (user ``ana``)."""
    with WorkbenchClient(stack.url, stack.tokens["all"], timeout=120) as client:
        yield client


def as_role(stack: Stack, role: str) -> WorkbenchClient:
    return WorkbenchClient(stack.url, stack.tokens[role], timeout=120)


# -- the package itself --------------------------------------------------------------


def test_the_client_imports_neither_core_nor_app() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top not in ("core", "app", "pages", "streamlit"), f"{path.name}: {name}"
                assert top in sys.stdlib_module_names or top in ("httpx", "workbench_client"), (
                    f"{path.name} imports {name}: the client depends on httpx only"
                )
    assert (PACKAGE / "py.typed").is_file()


def test_it_installs_as_its_own_package(tmp_path: Path) -> None:
    """``pip install clients/python`` into a fresh virtualenv (uv, from its cache: the build
    backend and httpx were fetched by ``make install``), then import it there."""
    uv = Path(sys.executable).parent / "uv"
    source = tmp_path / "src"
    shutil.copytree(CLIENT_PATH, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    venv = tmp_path / "venv"
    for command in (
        [str(uv), "venv", "-q", "--python", sys.executable, str(venv)],
        [str(uv), "pip", "install", "-q", "--offline", "--python", str(venv / "bin/python"),
         str(source)],
    ):  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
    probe = (
        "import workbench_client, pathlib; print(pathlib.Path(workbench_client.__file__).parent)"
    )
    done = subprocess.run(
        [str(venv / "bin/python"), "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    installed = Path(done.stdout.strip())
    assert done.returncode == 0 and installed.is_relative_to(venv), done.stderr
    assert (installed / "py.typed").is_file()


# -- every method against the live API ----------------------------------------------


def test_system_and_identity(stack: Stack, wb: WorkbenchClient) -> None:
    assert WorkbenchClient(stack.url).healthz() == {"status": "ok"}
    assert wb.readyz()["status"] == "ready"
    me = wb.whoami()
    assert me["user"] == "ana" and me["roles"] == ["analyst", "pm", "risk", "trader"]
    assert me["via"] == f"api token {stack.token_ids[stack.tokens['all']]}"
    assert as_role(stack, "risk").whoami()["roles"] == ["risk"]


def test_datasets_list_validate_and_import(stack: Stack, wb: WorkbenchClient) -> None:
    names = {d["name"] for d in wb.datasets()}
    assert {"ohlcv_daily", "synthetic"} <= names
    csv = "date,open,high,low,close,volume\n" + "\n".join(
        f"2024-01-{d:02d},{100 + d},{101 + d},{99 + d},{100.5 + d},{1000 * d}" for d in range(1, 29)
    )
    checked = wb.validate_dataset(("prices.csv", csv.encode()))
    assert checked["valid"] is True and checked["rows"] == 28, checked
    # A declared format reaches the API: semicolons and decimal commas read only when declared.
    european = csv.replace(",", ";").replace(".5", ",5")
    with pytest.raises(InvalidRequest):
        wb.validate_dataset(("eu.csv", european.encode()))
    read = wb.validate_dataset(("eu.csv", european.encode()), delimiter=";", decimal=",")
    assert read["valid"] is True and read["rows"] == 28, read
    with pytest.raises(TypeError, match="unknown file format"):
        wb.validate_dataset(("eu.csv", european.encode()), format="eu")
    with pytest.raises(Forbidden):
        as_role(stack, "trader").import_dataset(("prices.csv", csv.encode()), name="clientdata")
    imported = as_role(stack, "analyst").import_dataset(
        ("prices.csv", csv.encode()), name="clientdata"
    )
    assert imported["imported"] == "clientdata" and imported["rows"] == 28, imported
    uploads = next(d for d in wb.datasets() if d["name"] == imported["dataset"])
    assert {"symbol": "clientdata", "rows": 28} in [
        {"symbol": s["symbol"], "rows": s["rows"]} for s in uploads["symbols"]
    ]


def test_backtest_over_the_whole_symbol(wb: WorkbenchClient) -> None:
    result = wb.backtest(symbol="SP500", strategy="ma_crossover", params={"fast": 10, "slow": 50})
    daily = next(d for d in wb.datasets() if d["name"] == "ohlcv_daily")
    rows = next(s["rows"] for s in daily["symbols"] if s["symbol"] == "SP500")
    assert result["bars"] == rows  # every bar of the listed history
    assert result["bar_interval"] and result["run_id"] is not None
    for metric in ("sharpe", "total_return", "max_drawdown"):
        assert math.isfinite(result[metric]), metric
    assert -1.0 <= result["max_drawdown"] <= 0.0
    with pytest.raises(InvalidRequest) as invalid:
        wb.backtest(symbol="SP500", params={"fast": -1})
    assert "Fast must be an integer in [1, 100000] (bars), got -1" in invalid.value.detail


def test_jobs_submit_wait_result_list_and_cancel(stack: Stack, wb: WorkbenchClient) -> None:
    job = wb.submit_job("sweep", grid=SMALL_GRID)
    assert job["operation"] == "sweep" and job["links"]["self"].endswith(str(job["job_id"]))
    done = wb.wait_job(job["job_id"], timeout_s=240, poll_s=0.2)
    assert done["status"] == "done" and done["owner"] == "ana", done
    result = wb.job_result(job["job_id"])
    assert result["combinations"] == 16  # 4 fast x 4 slow
    best = max(result["top"], key=lambda row: row["sharpe"])
    assert result["best"]["sharpe"] == best["sharpe"]
    assert job["job_id"] in [j["id"] for j in wb.jobs(status="done")]
    with pytest.raises(Conflict, match="already done"):
        wb.cancel_job(job["job_id"])
    # A job no worker takes (the stack's worker runs sweep and train jobs only).
    queued = wb.submit_job("universe", strategy="ma_crossover")
    assert wb.job(queued["job_id"])["status"] == "queued"
    cancelled = wb.cancel_job(queued["job_id"])
    assert cancelled["job_id"] == queued["job_id"] and cancelled["message"]
    final = wb.wait_job(queued["job_id"], timeout_s=240, poll_s=0.2)
    assert final["status"] == "cancelled"
    with pytest.raises(Conflict):
        wb.job_result(queued["job_id"])


def test_regimes_are_probabilities(wb: WorkbenchClient) -> None:
    view = wb.regimes(["SP500"])
    (row,) = view["symbols"]
    assert row["symbol"] == "SP500" and set(row["probabilities"]) == {
        "bull", "bear", "sideways", "volatile"
    }  # fmt: skip
    assert math.isclose(sum(row["probabilities"].values()), 1.0, abs_tol=1e-9)
    assert row["label"] == max(row["probabilities"], key=row["probabilities"].__getitem__)
    assert row["confidence"] == row["probabilities"][row["label"]]


def test_models_predictions_promote_and_rollback(stack: Stack, wb: WorkbenchClient) -> None:
    features = ["ret_1", "ret_5", "rsi_14"]
    runs = []
    for seed in (0, 1):  # two versions, so a rollback has a champion to restore
        job = wb.submit_job("train", kind="logistic", symbol="SP500", features=features, seed=seed)
        assert wb.wait_job(job["job_id"], timeout_s=240, poll_s=0.2)["status"] == "done"
        runs.append(wb.job_result(job["job_id"])["run_id"])
    first, second = (stack.register_model(run, "client-demo") for run in runs)
    listed = wb.models(name="client-demo")["versions"]
    assert {v["id"] for v in listed} == {first, second}
    with pytest.raises(Forbidden):
        as_role(stack, "analyst").promote(first)
    pm = as_role(stack, "pm")
    assert pm.promote(first, reason="client test")["stage"] == "champion"
    assert pm.promote(second, reason="client test")["stage"] == "champion"
    restored = pm.rollback("client-demo", reason="client test")
    assert restored["id"] == first and restored["stage"] == "champion"

    one = wb.predict("client-demo@champion", "SP500")
    assert one["model"]["id"] == first and 0.0 <= (one["probability"] or -1) <= 1.0
    batch = wb.predict_batch(first, ["SP500", "IBM"], as_of=one["as_of"])
    assert [p["symbol"] for p in batch["predictions"]] == ["SP500", "IBM"]
    assert batch["predictions"][0]["probability"] == one["probability"]  # same bar, same model
    with pytest.raises(NotFound):
        wb.predict(987654, "SP500")


def test_risk_limits_get_set_and_check(stack: Stack, wb: WorkbenchClient) -> None:
    limits = wb.risk_limits()
    risk = as_role(stack, "risk")
    with pytest.raises(Forbidden):
        as_role(stack, "trader").set_risk_limits({"max_drawdown": 0.2}, reason="client test")
    change = risk.set_risk_limits(
        {"max_weight_per_asset": 0.1}, reason="client test", expected_version=limits["version"]
    )
    assert change["version"] == limits["version"] + 1 and change["changed_by"] == "risk-user"
    assert wb.risk_limits()["limits"]["max_weight_per_asset"] == 0.1
    with pytest.raises(Conflict):  # stale: the version moved on
        risk.set_risk_limits(
            {"max_weight_per_asset": 0.2}, reason="stale", expected_version=limits["version"]
        )
    equity = wb.check_order("SP500", 1)["equity"]  # the newest paper session's book
    price = 0.1 * equity / 10.5  # 10% of the equity buys 10.5 shares: 10 fit, 11 do not
    check = wb.check_order("SP500", 10, price=price)
    assert check["approved"] is True and check["allowed_quantity"] == 10
    big = wb.check_order("SP500", 50, price=price)
    assert big["allowed_quantity"] == 10 and big["limits_version"] == change["version"]


def test_alert_channels_rules_and_history(stack: Stack, wb: WorkbenchClient) -> None:
    risk = as_role(stack, "risk")
    secret = "client-secret-password"
    saved = risk.add_alert_channel("client", f"json://user:{secret}@127.0.0.1:9/hook")
    assert secret not in str(saved)
    channels = {c["name"]: c for c in wb.alert_channels()}
    assert "client" in channels and secret not in channels["client"]["url"]
    rule = risk.add_alert_rule(
        name="client_dd", kind="drawdown", threshold=0.1, channels=["in-app"]
    )
    assert rule["name"] == "client_dd"
    assert "client_dd" in [r["name"] for r in wb.alert_rules()]
    with pytest.raises(Forbidden):
        wb_trader = as_role(stack, "trader")
        wb_trader.add_alert_rule(name="nope", kind="drawdown", threshold=0.1)
    assert isinstance(wb.alert_history(limit=5)["events"], list)


def test_paper_start_status_pause_resume_and_kill(stack: Stack, wb: WorkbenchClient) -> None:
    # One test: pytest-xdist may give the tests of a module to different processes, each
    # with its own stack, so a worker started by one test is not seen by another.
    trader = as_role(stack, "trader")
    started = trader.paper_start(
        {"session": "client", "symbols": ["SP500", "IBM"], "train_bars": 300}, steps=3
    )
    assert started["session"] == "client" and started["pid"] > 0
    with pytest.raises(Forbidden):
        as_role(stack, "analyst").paper_start({"session": "other"}, steps=1)

    def finished() -> dict | None:
        status = wb.paper_status(session="client")
        beat = status.get("heartbeat") or {}
        return status if beat.get("status") == "done-steps" and not status["alive"] else None

    status = wait_until(finished, "the paper worker to run its 3 bars", timeout_s=240)
    assert status["session"]["symbols"] == ["SP500", "IBM"] and status["fills"] >= 0
    assert trader.paper_pause(reason="client test")["changed"] is False  # no worker runs
    assert trader.paper_resume(reason="client test")["changed"] is False
    with pytest.raises(Forbidden):
        as_role(stack, "analyst").paper_kill(reason="client test")
    killed = trader.paper_kill(flatten=True, reason="client test")
    assert killed["changed"] is True and killed["flattened"] == ["client"], killed
    after = wb.paper_status(session="client")
    assert all(p["qty"] == 0 for p in after["positions"]), after["positions"]
    with pytest.raises(NotFound):
        wb.paper_status(session="no-such-session")


# -- errors ---------------------------------------------------------------------------


def test_401_without_or_with_a_bad_token(stack: Stack) -> None:
    for token in (None, "wbt_not-a-real-token.00"):
        with pytest.raises(Unauthorized) as caught:
            WorkbenchClient(stack.url, token).whoami()
        assert caught.value.status == 401 and caught.value.error == "unauthorized"
        assert "token" in caught.value.detail


def test_403_404_and_422_carry_the_json_body(stack: Stack, wb: WorkbenchClient) -> None:
    with pytest.raises(Forbidden) as forbidden:
        as_role(stack, "analyst").set_risk_limits({"max_drawdown": 0.2}, reason="x")
    assert forbidden.value.status == 403 and "risk" in forbidden.value.detail
    with pytest.raises(NotFound) as missing:
        wb.job(2**40)
    assert missing.value.status == 404 and missing.value.error == "not_found"
    with pytest.raises(InvalidRequest) as invalid:
        wb.check_order("SP500", -5)
    assert invalid.value.status == 422 and invalid.value.error == "invalid_request"
    (problem,) = invalid.value.fields
    assert problem["field"] == "qty" and problem["message"]
    assert isinstance(invalid.value, WorkbenchError)


def test_429_is_raised_or_waited_out_after_retry_after(stack: Stack) -> None:
    token = stack.make_token("slow", "analyst", rate_per_s=0.5)  # burst: 2 s worth = 1
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        import time

        time.sleep(seconds)

    strict = WorkbenchClient(stack.url, token)
    strict.whoami()
    with pytest.raises(RateLimited) as limited:
        strict.whoami()
    assert limited.value.status == 429 and limited.value.retry_after > 0
    patient = WorkbenchClient(stack.url, token, retries=3, sleep=sleep)
    assert patient.whoami()["user"] == "slow"
    assert waits and all(w > 0 for w in waits)
