"""Fuzz every ``workbench`` command with bad flag values: exit 2, the flag named, no traceback,
nothing stored.

The commands and their options are read from the typer app itself, so a new command or
flag is fuzzed without editing this file (a new *required* flag needs a valid value in
``REQUIRED``). Runs in-process with typer's CliRunner; every bad value must be refused while
the arguments are parsed or checked, before any work starts, so the whole file takes seconds.
"""

from __future__ import annotations

import re
import sqlite3
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.cli import app, load_all

load_all()  # the root group is lazy: register every command so the walk below sees them
EXIT_BAD_INPUT = 2
EXIT_FORBIDDEN = 3

# A valid value for every required parameter, so parsing reaches the flag under test.
REQUIRED: dict[str, str] = {
    "--grid": "fast=5:10:5",
    "--out": "{tmp}/out.html",
    "--symbol": "SP500",
    "--a": "buy_and_hold",
    "--b": "ma_crossover",
    "--qty": "1",
    "--reason": "fuzz",
    "--name": "fuzz",
    "--kind": "drawdown",
    "--url": "json://127.0.0.1:9/hook",
    "--password": "a-long-enough-password",
    "FILE": "{tmp}/good.csv",
    "VALUES": "max_weight_per_asset=0.2",
    "NAME": "fuzz",
    "VERSION_ID": "1",
    "TOKEN_ID": "1",
    "--run-id": "1",
    "JOB_ID": "1",
    "REQUEST_ID": "1",
    "--model": "1",
    "--user": "fuzz",
    "--roles": "analyst",
    "--subject": "ma_crossover",
    "SUBJECT": "ma_crossover",
}
# More valid flags some commands need before they look at the flag under test.
EXTRA: dict[str, list[str]] = {
    "regime fit": ["--dataset", "ohlcv_daily", "--symbol", "SP500"],
    "alerts rule add": ["--threshold", "0.1"],
    "walkforward": ["--strategy", "ma_crossover"],
}
# Commands whose --out is a folder to write into (not a file).
OUT_FOLDER = {"report pack"}
# Flags whose value is free text (any single printable line is fine).
FREE_TEXT = {"--reason", "--password", "--a", "--b", "--arm", "--url"}
# Flags for which zero is a valid value.
ZERO_OK = {
    "--seed",
    "--cooldown",
    "--expected-version",
    "--speed",
    "--threshold",
    "--keep",
    "--metrics-port",  # 0: no metrics server (a valid value: the command would run)
}
# Flags for which a negative value is valid.
NEGATIVE_OK = {"--threshold"}

BAD_NUMBERS = ["nan", "inf", "1e308", "", "1,5", "١٢", "9" * 40]
BAD_TEXT = ["name\n", "a\x00b", "x" * 1000]


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        if hasattr(cmd, "commands"):
            if getattr(cmd, "default", None) is not None:  # `report` is a command and a group
                yield path, cmd.default
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, (*path, name))
        else:
            yield path, cmd

    yield from walk(typer.main.get_command(app), ())


def _label(param: Any) -> str:
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")]
    return opts[0] if opts else param.name.upper()


def _kind(command: Any, param: Any) -> str:
    hints = typing.get_type_hints(command.callback)
    annotation = hints.get(param.name, str)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (list, typing.Union) or type(annotation).__name__ in (
        "UnionType",
    ):
        annotation = args[0] if args else annotation
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return annotation.__name__
    if annotation is Path:
        return "out" if "out" in param.name else "in"
    return "str"


def _bad_values(label: str, kind: str, tmp: Path) -> list[str]:
    if kind == "int":
        values = [*BAD_NUMBERS, "2.5"]
        values += [] if label in NEGATIVE_OK else ["-1"]
        values += [] if label in ZERO_OK else ["0"]
        return values
    if kind == "float":
        return BAD_NUMBERS + ([] if label in NEGATIVE_OK else ["-1"])
    if kind == "in":
        return [str(tmp / "missing.csv"), str(tmp), ""]
    if kind == "out":
        (tmp / "a_file").write_text("x")
        return [str(tmp), str(tmp / "a_file" / "out.html"), ""]
    if kind == "str":
        return BAD_TEXT
    return []


def _cases(tmp: Path) -> list[tuple[tuple[str, ...], str, str, list[str]]]:
    cases = []
    for path, command in _commands():
        params = [p for p in command.params if getattr(p, "expose_value", True)]
        base: list[str] = list(EXTRA.get(" ".join(path), []))
        for p in params:
            if p.required:
                label = _label(p)
                assert label in REQUIRED, f"{' '.join(path)}: add a valid {label} to REQUIRED"
                value = REQUIRED[label].format(tmp=tmp)
                base += [value] if label == label.upper() else [label, value]
        for p in params:
            if getattr(p, "is_flag", False) or getattr(p, "hide_input", False):
                continue
            label = _label(p)
            kind = _kind(command, p)
            if label in FREE_TEXT and kind == "str":
                bad = ["line\nbreak", "x" * 1000]
            elif kind == "out" and " ".join(path) in OUT_FOLDER:
                (tmp / "a_file").write_text("x")
                bad = [str(tmp / "a_file"), str(tmp / "a_file" / "sub"), ""]
            else:
                bad = _bad_values(label, kind, tmp)
            for value in bad:
                args = _replace(base, p, label, value)
                cases.append((path, label, value, args))
    return cases


def _replace(base: list[str], param: Any, label: str, value: str) -> list[str]:
    args = list(base)
    if label == label.upper():  # positional
        default = REQUIRED.get(label)
        positions = [i for i, a in enumerate(args) if default and a == default.split("{")[0]]
        if positions:
            args[positions[0]] = value
            return args
        return [*args, value]
    if label in args:
        args[args.index(label) + 1] = value
        return args
    return [*args, label, value]


def _names(label: str) -> set[str]:
    """How a message may name a flag: ``--train-bars``, or its field ``train_bars``."""
    bare = label.lstrip("-").lower()
    return {label.lower(), bare, bare.replace("-", "_")}


def _stored(var: Path) -> tuple[dict[str, int], set[str]]:
    """Row counts of every table and the files under the runtime folder."""
    counts: dict[str, int] = {}
    db = var / "workbench.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            names = [
                r[0] for r in conn.execute("select name from sqlite_master where type='table'")
            ]
            for name in names:
                if name != "alembic_version":
                    counts[name] = conn.execute(f'select count(*) from "{name}"').fetchone()[0]
    files = {
        str(p.relative_to(var))
        for p in var.rglob("*")
        if p.is_file() and not p.name.startswith("workbench.db")
    }
    return counts, files


def _plain(text: str) -> str:
    """Output without rich's box drawing and line wrapping."""
    return re.sub(r"\s+", " ", re.sub(r"[╭╮╰╯│─]", " ", text))


def test_every_command_refuses_every_bad_value(
    tmp_path: Path, isolated_workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "good.csv").write_text("date,close\n2021-01-04,1\n2021-01-05,1.1\n")
    root = typer.main.get_command(app)
    # Build the click command once, not once per invocation (the library rebuilds it).
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: root)
    runner = CliRunner()
    first = runner.invoke(app, ["runs", "--limit", "1"])  # creates and migrates the database
    assert first.exit_code == 0, first.output
    before = _stored(isolated_workbench)
    cases = _cases(tmp_path)
    assert len(cases) > 300, len(cases)
    failures = []
    for path, label, value, args in cases:
        result = runner.invoke(app, [*path, *args])
        out = _plain(result.output)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        problems = []
        if crashed or "Traceback" in result.output:
            problems.append(f"traceback {type(result.exception).__name__}: {result.exception}")
        if result.exit_code not in (EXIT_BAD_INPUT, EXIT_FORBIDDEN):
            problems.append(f"exit {result.exit_code}")
        elif not any(name in out.lower() for name in _names(label)):
            problems.append("the message does not name the flag")
        if problems:
            failures.append(f"{' '.join(path)} {label} {value[:30]!r}: {problems}: {out[-160:]}")
    after = _stored(isolated_workbench)
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)
    assert after == before, "a refused command stored something"


def test_the_fuzz_covers_every_command() -> None:
    paths = {" ".join(path) for path, _ in _commands()}
    wanted = {"backtest", "sweep", "runs", "report", "report pack", "report pack schedule set"}
    assert wanted | {"paper run", "regime eval"} <= paths
    assert len(paths) >= 30


# -- the parsers behind the flags: any text gives a value or a ValueError ---------------------

_TEXT = st.text(max_size=60) | st.sampled_from(
    ["1e15", "1:1e15:1", "1:inf:1", "nan:5:1", "5:1:1", "1:5:0", "1e308:1e308", "9" * 400]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_parse_value_gives_a_value_or_a_value_error(text: str) -> None:
    from app.operations.params import parse_value

    try:
        value = parse_value(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert isinstance(value, bool | int | float | str)
        if isinstance(value, float):
            assert value == value and abs(value) != float("inf")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_grid_axis_parse_gives_a_small_axis_or_a_value_error(text: str) -> None:
    from core.sweep import MAX_COMBINATIONS, GridAxis

    try:
        axis = GridAxis.parse(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert 1 <= axis.count <= MAX_COMBINATIONS
        assert len(axis.values()) == axis.count


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40), st.sampled_from(["fast", "slow", "allow_short", "nope"]))
def test_sweep_grid_text_gives_a_request_or_a_value_error(text: str, name: str) -> None:
    from app.operations.sweep import SweepRequest
    from core.sweep import GridAxis

    try:
        SweepRequest(
            dataset="ohlcv_daily",
            symbol="SP500",
            strategy="ma_crossover",
            grid={name: GridAxis.parse(text)},
        )
    except ValueError as exc:
        assert str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_number_flag_parser_gives_a_number_in_range_or_a_value_error(text: str) -> None:
    from app.cli.options import number

    parse = number(0, 0.05)
    try:
        value = parse(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert 0 <= value <= 0.05


@pytest.mark.parametrize("value", ["1e23", "inf", "nan", "-5", "20.5", "true", "١٢", "abc"])
def test_strategy_window_values_are_refused_with_their_range(value: str) -> None:
    from app.operations.params import parse_value
    from core.strategies.catalog import check_param

    try:
        parsed = parse_value(value)
    except ValueError:
        return
    with pytest.raises(ValueError, match=r"fast must be an integer in \[1, 100000\] \(bars\)"):
        check_param("ma_crossover", "fast", parsed)


@pytest.mark.parametrize("command", ["sweep", "walkforward"])
@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ("fast=1:1e15:1", "--grid 'fast=1:1e15:1': 1:1e+15:1 has 1e+15 points, more than the cap"),
        ("fast=0.5:10:1", "--grid fast=0.5:10:1: fast is an integer parameter"),
        ("fast=0:10:1", "--grid fast=0:10:1 goes outside the valid range"),
        ("fast=1:inf:1", "--grid 'fast=1:inf:1': grid range '1:inf:1' must contain finite"),
    ],
)
def test_grid_axes_are_refused_naming_the_flag_before_any_work(
    command: str, axis: str, message: str, isolated_workbench: Path
) -> None:
    args = [command, "--strategy", "ma_crossover", "--grid", axis, "--grid", "slow=20:40:10"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == EXIT_BAD_INPUT
    assert message in _plain(result.output), result.output
    assert (
        not (isolated_workbench / "workbench.db").exists()
        or _stored(isolated_workbench)[0].get("runs", 0) == 0
    )


_VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.none(),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(__import__("core.strategies").strategies.STRATEGIES)), st.data())
def test_any_parameter_value_is_valid_or_a_value_error(strategy: str, data: st.DataObject) -> None:
    from core.strategies.catalog import check_param, param_specs, validate_params

    specs = param_specs(strategy)
    field = data.draw(st.sampled_from([*sorted(specs), "unknown"]))
    value = data.draw(_VALUES)
    try:
        check_param(strategy, field, value)
    except ValueError as exc:
        assert field in str(exc)
        with pytest.raises(ValueError):
            validate_params(strategy, {field: value})
    else:
        spec = specs[field]
        if spec.kind in ("int", "float"):
            assert spec.contains(float(value))
        try:
            validate_params(strategy, {field: value})
        except ValueError as exc:  # only a cross-field rule may still refuse it
            assert "must be" in str(exc) or "smaller" in str(exc) or "below" in str(exc)
