"""Operations as data: the CLI is generated from the request models, defaults live once."""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError
from typer.testing import CliRunner

from app.cli._generate import add_command
from app.operations import Cancelled, CancelToken, Operation, all_operations, get
from app.operations.costs import Costs, default_bps
from app.operations.errors import error_text, field_errors, number_text

RUNNER = CliRunner()


def _fake_service_module(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A module the descriptors can name, recording the requests it receives."""
    seen: list[Any] = []
    module = types.ModuleType("fake_operation_service")

    def run(*, request: Any) -> Any:
        seen.append(request)
        return request

    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_operation_service", module)
    return seen


def _command(request: type[BaseModel]) -> typer.Typer:
    op = Operation(
        name="probe",
        feature="probe",
        summary="Probe the generator.",
        request=request,
        service="fake_operation_service:run",
        payload=lambda r: r.model_dump(mode="json"),
    )
    target = typer.Typer()
    add_command(target, op)
    target.command("noop")(lambda: None)  # two commands: typer keeps the name
    return target


class _Probe(Costs):
    window: int = Field(default=20, ge=2, le=500, description="Window in bars")
    mode: str = Field(default="fast", pattern="^[a-z]+$", description="Mode name")


class _CheaperProbe(_Probe):
    fees: float = Field(default=0.0012, ge=0, le=0.05, description="Fees per fill")


def test_generated_defaults_and_help_come_from_the_request_model(monkeypatch) -> None:
    seen = _fake_service_module(monkeypatch)
    for model, fee in ((_Probe, 0.0005), (_CheaperProbe, 0.0012)):
        app = _command(model)
        help_text = RUNNER.invoke(app, ["probe", "--help"]).output
        assert "--fees" in help_text and "--window" in help_text and "Window in bars" in help_text
        assert f"{fee}" in help_text
        result = RUNNER.invoke(app, ["probe", "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["fees"] == fee
        assert seen[-1].fees == fee and seen[-1].window == 20


def test_generated_options_validate_before_any_work(monkeypatch) -> None:
    seen = _fake_service_module(monkeypatch)
    app = _command(_Probe)
    bad = RUNNER.invoke(app, ["probe", "--window", "1"])
    assert bad.exit_code == 2 and "out of range" in bad.output and "[2, 500]" in bad.output
    bad = RUNNER.invoke(app, ["probe", "--fees", "nan"])
    assert bad.exit_code == 2
    assert seen == []
    ok = RUNNER.invoke(app, ["probe", "--window", "30", "--fees", "0.001", "--json"])
    assert ok.exit_code == 0 and seen[-1].window == 30 and seen[-1].fees == 0.001


def test_the_fee_default_lives_only_in_costs() -> None:
    """Every trading request inherits Costs, so its fee default is the one in Costs; the
    backtest CLI and the cost inputs of the pages read the same value."""
    from app.cli import app

    trading = [op.request for op in all_operations() if "fees" in op.request.model_fields]
    assert trading, "no operation trades?"
    for request in trading:
        assert issubclass(request, Costs), request
        assert request.model_fields["fees"].default == Costs.model_fields["fees"].default
    help_text = RUNNER.invoke(app, ["backtest", "--help"], terminal_width=200).output
    assert f"[default: {Costs.model_fields['fees'].default}]" in help_text
    assert default_bps("fees") == Costs.model_fields["fees"].default * 1e4


def test_every_operation_generates_a_cli_command() -> None:
    from app.cli import app

    for op in all_operations():
        words = op.name.split()
        result = RUNNER.invoke(app, [*words, "--help"], terminal_width=200)
        assert result.exit_code == 0, (op.name, result.output)
        for name in op.request.model_fields:
            flag = op.flags.get(name)
            if flag is not None and flag.argument:  # positional: named in the usage line
                assert name in result.output.lower(), (op.name, name)
            elif flag is None or not flag.hidden:
                assert op.flag(name) in result.output, (op.name, name)
    assert get("backtest").feature == "backtest"
    with pytest.raises(KeyError, match="unknown operation"):
        get("no-such-operation")


def test_cancel_token() -> None:
    token = CancelToken()
    token.check()
    token.cancel("reload")
    with pytest.raises(Cancelled, match="reload"):
        token.check()


class _Form(BaseModel):
    step_bars: int = Field(ge=1, le=500)
    test_bars: int = Field(default=250, ge=20)
    name: str = Field(default="x", min_length=1, pattern="^[A-Za-z0-9_.-]+$")
    start: float = 100.0
    stop: float = 200.0

    def model_post_init(self, _: Any) -> None:
        if self.stop < self.start:
            raise ValueError(f"stop {self.stop} is below start {self.start}")
        if self.step_bars < self.test_bars:
            raise ValueError(f"step_bars ({self.step_bars}) must be ≥ test_bars ({self.test_bars})")


LABELS = {"step_bars": "Step (bars)", "test_bars": "Test window (bars)", "name": "Run name"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"step_bars": 0}, "Step (bars) must be at least 1."),
        ({"step_bars": 900}, "Step (bars) must be at most 500."),
        ({"step_bars": 300, "name": ""}, "Run name must not be empty."),
        (
            {"step_bars": 300, "name": "a b"},
            "Run name may use only letters, digits, '_', '.' and '-'.",
        ),
        ({"step_bars": 300, "stop": 80}, "Stop 80 is below start 100."),
        ({"step_bars": 100}, "Step (bars) (100) must be ≥ Test window (bars) (250)."),
        ({}, "Step (bars) is required."),
    ],
)
def test_error_sentences_name_fields_by_label(values: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        _Form(**values)
    assert error_text(info.value, labels=LABELS) == expected
    leaked = ("Input should", "String should", "Value error", "step_bars", "80.0")
    assert not any(text in error_text(info.value, labels=LABELS) for text in leaked)


def test_field_errors_keep_the_field_for_placement() -> None:
    with pytest.raises(ValidationError) as info:
        _Form(step_bars=0, name="")
    fields = sorted(e.field or "" for e in field_errors(info.value, labels=LABELS))
    assert fields == ["name", "step_bars"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False)))
def test_number_text_round_trips(value: float) -> None:
    text = number_text(value)
    assert float(text.replace(",", "")) == pytest.approx(float(value), rel=1e-5, abs=1e-300)
    if float(value).is_integer() and abs(value) < 1e15:
        assert "." not in text and "e" not in text


def test_every_operations_module_is_listed_in_features() -> None:
    """A module that declares operations but is missing from FEATURES would be invisible to
    all_operations() (the job runner and the API) unless the CLI happened to import it."""
    from pathlib import Path

    from app.operations import FEATURES

    folder = Path(__file__).resolve().parents[2] / "app" / "operations"
    declaring = {
        path.stem
        for path in folder.glob("*.py")
        if "register(" in path.read_text() and path.stem != "__init__"
    }
    assert declaring == set(FEATURES)
