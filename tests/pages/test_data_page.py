"""The Data page, driven through the router like a user: pick, chart, upload."""

from __future__ import annotations

from pathlib import Path

from app.services import data as data_service
from tests.pages.helpers import metrics, open_app, trace_types


def test_default_view_shows_sp500_chart_and_stats() -> None:
    at = open_app()
    assert at.title[0].value == "Data"
    shown = metrics(at)
    # S&P 500, 1999-01-04 .. 2018-12-31: 5,031 bars, close 2506.85, +104.12% in all.
    assert shown["Bars"] == "5,031"
    assert shown["Last close"] == "2,506.85"
    assert shown["Total return"] == f"{2506.850098 / 1228.099976 - 1:.2%}"
    assert trace_types(at) == ["candlestick", "bar", "bar"]


def test_switching_to_close_only_dataset_draws_a_line() -> None:
    at = open_app()
    at.sidebar.selectbox(key="data.dataset").set_value("sp500_closes").run()
    at.sidebar.selectbox(key="data.symbol").set_value("MSFT").run()
    assert not at.exception
    shown = metrics(at)
    assert shown["Bars"] == "8,313"
    expected = data_service.load_prices("sp500_closes", "MSFT")["close"]
    assert shown["Total return"] == f"{expected.iloc[-1] / expected.iloc[0] - 1:,.2%}"
    assert trace_types(at) == ["scatter"]


def test_bad_upload_lists_every_defect_and_stores_nothing(isolated_workbench: Path) -> None:
    at = open_app()
    bad = b"date,high,low,close\n2021-01-04,1,2,1.5\n2021-01-04,2,1,abc\n"
    at.file_uploader(key="data.upload").set_value(("bad.csv", bad, "text/csv"))
    at.text_input(key="data.upload_name").set_value("bad_fund")
    at.button(key="FormSubmitter:data.upload_form-Validate and import").click().run()
    errors = [e.value for e in at.error]
    assert errors[0] == "bad.csv was not imported: 4 problems to fix. Nothing was stored."
    assert (
        "column 'close': 1 non-numeric value(s) (line 3: 'abc'); use plain numbers such as "
        "101.25" in errors
    )
    assert any(e.startswith("1 timestamp(s) appear more than once (2021-01-04") for e in errors)
    # line 2 has high 1 < low 2: the old validator stopped before checking it
    assert (
        "high < low on 1 row(s) (line 2 (2021-01-04)); check for swapped high and low "
        "columns" in errors
    )
    assert not any("_" in e.split(":")[0] for e in errors)  # no defect codes
    assert data_service.symbols_of("uploads") == []


def test_good_upload_is_imported_and_selectable(isolated_workbench: Path) -> None:
    at = open_app()
    good = b"date,close\n2021-01-04,100\n2021-01-05,101\n2021-01-06,99.5\n"
    at.file_uploader(key="data.upload").set_value(("fund.csv", good, "text/csv"))
    at.text_input(key="data.upload_name").set_value("fund")
    at.button(key="FormSubmitter:data.upload_form-Validate and import").click().run()
    assert any("uploads/fund" in s.value for s in at.success)
    at.sidebar.selectbox(key="data.dataset").set_value("uploads").run()
    assert at.sidebar.selectbox(key="data.symbol").value == "fund"
    assert metrics(at)["Bars"] == "3"
    assert metrics(at)["Total return"] == "-0.50%"


SUBMIT = "FormSubmitter:data.upload_form-Validate and import"
EU = b"date;close\n04/01/2021;100,13\n05/01/2021;101,5\n06/01/2021;99,9\n"


def test_day_first_decimal_comma_file_is_refused_then_read_once_declared(
    isolated_workbench: Path,
) -> None:
    at = open_app()
    at.file_uploader(key="data.upload").set_value(("eu.csv", EU, "text/csv"))
    at.text_input(key="data.upload_name").set_value("eu_fund")
    at.button(key=SUBMIT).click().run()
    errors = [e.value for e in at.error]
    assert (
        "column 'date': dates (line 2: '04/01/2021', line 3: '05/01/2021', line 4: "
        "'06/01/2021') can be read day-first or month-first; declare the Date format "
        "(under File format) %d/%m/%Y or %m/%d/%Y, or write ISO dates like 2020-01-31"
    ) in errors
    assert any(
        e.endswith(
            "declare the Decimal separator (under File format) , if ',' is the decimal "
            "separator, or the Thousands separator (under File format) , if it groups thousands"
        )
        for e in errors
    )
    assert not any("--" in e for e in errors)  # no CLI flag on the page
    assert data_service.symbols_of("uploads") == []
    at.selectbox(key="data.fmt.date_format").set_value("%d/%m/%Y")
    at.selectbox(key="data.fmt.decimal").set_value(",")
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert any("uploads/eu_fund" in s.value and "2021-01-04" in s.value for s in at.success)
    assert data_service.load_prices("uploads", "eu_fund")["close"].tolist() == [100.13, 101.5, 99.9]


def test_bad_format_field_is_named_and_nothing_is_stored(isolated_workbench: Path) -> None:
    at = open_app()
    at.file_uploader(key="data.upload").set_value(("eu.csv", EU, "text/csv"))
    at.text_input(key="data.upload_name").set_value("eu_fund")
    at.text_input(key="data.fmt.timezone").set_value("Europe/Pariss")
    at.text_input(key="data.fmt.custom").set_value("dd/mm/yyyy")
    at.button(key=SUBMIT).click().run()
    errors = [e.value for e in at.error]
    assert any(e.startswith("Time zone:") and "Europe/Paris" in e for e in errors)
    assert any(e.startswith("Date format:") and "strftime" in e for e in errors)
    assert data_service.symbols_of("uploads") == []


def test_name_with_trailing_space_is_refused(isolated_workbench: Path) -> None:
    at = open_app()
    good = b"date,close\n2021-01-04,100\n"
    at.file_uploader(key="data.upload").set_value(("fund.csv", good, "text/csv"))
    at.text_input(key="data.upload_name").set_value("fund ")
    at.button(key=SUBMIT).click().run()
    assert [e.value for e in at.error] == [
        "Dataset name: 'fund ' is not allowed: it starts or ends with whitespace (a newline, "
        "tab or space); use 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
        "digit"
    ]
    assert data_service.symbols_of("uploads") == []


def test_corrupted_upload_shows_an_error_and_the_page_still_works(
    isolated_workbench: Path,
) -> None:
    data_service.import_upload("fund", "fund.csv", b"date,close\n2021-01-04,100\n2021-01-05,101\n")
    (isolated_workbench / "datasets" / "fund.parquet").write_bytes(b"PAR1 torn write")
    at = open_app()
    at.sidebar.selectbox(key="data.dataset").set_value("uploads").run()
    assert not at.exception, at.exception
    assert any("uploads/fund is corrupted" in e.value for e in at.error)
    assert at.button(key=SUBMIT) is not None  # the upload form is still there


def test_a_taken_name_and_an_unreadable_parquet_say_what_to_do(isolated_workbench: Path) -> None:
    data_service.import_upload("fund", "fund.csv", b"date,close\n2021-01-04,100\n")
    at = open_app()
    good = b"date,close\n2021-01-04,100\n2021-01-05,101\n"
    at.file_uploader(key="data.upload").set_value(("fund2.csv", good, "text/csv"))
    at.text_input(key="data.upload_name").set_value("fund")
    at.button(key=SUBMIT).click().run()
    (taken,) = [e.value for e in at.error]
    assert taken.startswith("Dataset name: a dataset named 'fund' already exists")
    assert taken.endswith("; choose another name")
    at.file_uploader(key="data.upload").set_value(("fund.parquet", b"not parquet", "x"))
    at.text_input(key="data.upload_name").set_value("fund3")
    at.button(key=SUBMIT).click().run()
    errors = [e.value for e in at.error]
    assert errors[0] == "fund.parquet was not imported: 1 problem to fix. Nothing was stored."
    assert errors[1].startswith("fund.parquet is not a readable Parquet file")
    assert data_service.symbols_of("uploads") == ["fund"]


def test_table_tab_shows_dates_without_midnight_and_formatted_columns() -> None:
    at = open_app()
    summary, latest = at.dataframe[0], at.dataframe[1]
    assert latest.value.columns[0] == "date"
    config = latest.proto.columns
    assert '"date"' in config and "YYYY-MM-DD" in config and "HH:mm" not in config
    assert list(summary.value["column"]) == ["open", "high", "low", "close", "volume"]
    assert '"count"' in summary.proto.columns and "%,d" in summary.proto.columns
