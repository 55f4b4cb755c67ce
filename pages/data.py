"""Data page: browse embedded datasets, chart them, import validated files."""

from __future__ import annotations

import streamlit as st

from app import cached, state
from app.components.charts import render_figures
from app.components.data_page_parts import FORMAT_FIELDS, render_table_tab, show_defects
from app.components.numbers import day, integer, number, pct
from app.services import data as data_service
from app.services.auth import PermissionDenied
from app.session import current_actor
from core.data.formats import DATE_FORMAT_PRESETS
from core.data.summary import summary_stats
from core.data.validation import read_format

st.title("Data")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
info = next((i for i in cached.dataset_infos() if i["name"] == dataset), None)
if info:
    st.caption(
        f"**{dataset}**: {info['description']} · source: {info['source']} · "
        f"license: {info['license']}"
    )

full, load_error = None, None
if symbol is not None:
    try:
        full = cached.prices(dataset, symbol, None, None)
    except data_service.DataSourceError as exc:
        load_error = str(exc)

chart_tab, table_tab, upload_tab = st.tabs(["Chart", "Table", "Upload"])

with chart_tab:
    if load_error is not None:
        st.error(load_error)
    elif full is None:
        st.info(
            "This dataset has no symbols yet. Use the Upload tab to import a CSV or Parquet file."
        )
    else:
        first, last = full.index[0].date(), full.index[-1].date()
        left, right = st.columns([3, 1])
        picked = left.date_input(
            "Date range",
            value=(first, last),
            min_value=first,
            max_value=last,
            key=f"data.range.{dataset}.{symbol}",
        )
        right.toggle("Log scale", key=state.LOG_SCALE)
        start, end = picked if isinstance(picked, tuple) and len(picked) == 2 else (first, last)
        try:
            frame = cached.prices(dataset, symbol, start, end)
        except data_service.DataSourceError as exc:
            st.error(str(exc))
            frame = None
        if frame is not None:
            stats = summary_stats(frame)
            render_figures(
                [
                    ("Bars", integer(stats["bars"])),
                    ("Last close", number(stats["last_close"])),
                    ("Total return", pct(stats["total_return"], 2)),
                    ("CAGR", pct(stats["cagr"], 2)),
                    ("Annual volatility", pct(stats["annual_volatility"], 2)),
                    ("Max drawdown", pct(stats["max_drawdown"], 2)),
                    ("Best day", pct(stats["best_day"], 2)),
                    ("Worst day", pct(stats["worst_day"], 2)),
                ]
            )
            kind = "candlestick" if "open" in frame else "close line (closes only)"
            title = f"{symbol} · {day(stats['start'])} → {day(stats['end'])} · {kind}"
            log_scale = bool(state.get(state.LOG_SCALE))
            figure = cached.price_figure(dataset, symbol, start, end, title, log_scale)
            st.plotly_chart(figure, width="stretch")  # built once per range and scale

with table_tab:
    if full is not None:
        render_table_tab(full, dataset, symbol)

with upload_tab:
    st.markdown(
        "Upload daily prices as **CSV** or **Parquet**: a `date` column and a `close` column "
        "are required; `open`, `high`, `low`, `volume` are optional. A file is accepted only "
        "when the meaning of every value is certain: dates are ISO 8601 (2020-01-31) and "
        "numbers use '.' as the decimal separator unless you declare another format below. "
        "Every defect is listed; nothing is stored unless the whole file is valid."
    )
    with st.form("data.upload_form", clear_on_submit=False):
        upload = st.file_uploader("Price file", type=["csv", "parquet", "pq"], key="data.upload")
        name = st.text_input("Dataset name", key=state.UPLOAD_NAME, placeholder="e.g. my_fund")
        with st.expander("File format (declare it if the file is not ISO dates and '.' decimals)"):
            c1, c2, c3 = st.columns(3)
            date_format = c1.selectbox(
                "Date format", DATE_FORMAT_PRESETS, key="data.fmt.date_format"
            )
            custom_format = c1.text_input(
                "Other date format (strftime)", key="data.fmt.custom", placeholder="%d-%b-%Y"
            )
            decimal = c2.selectbox("Decimal separator", [".", ","], key="data.fmt.decimal")
            thousands = c2.selectbox(
                "Thousands separator", ["none", ",", ".", "space", "'"], key="data.fmt.thousands"
            )
            delimiter = c3.selectbox(
                "Delimiter", ["auto", ",", ";", "tab", "|"], key="data.fmt.delimiter"
            )
            timezone = c3.text_input(
                "Time zone", key="data.fmt.timezone", placeholder="e.g. America/New_York"
            )
        submitted = st.form_submit_button("Validate and import", type="primary")
    if submitted:
        fmt, bad_options = None, []
        try:
            fmt = read_format(
                date_format=custom_format.strip() or date_format,
                decimal=decimal,
                thousands=thousands,
                delimiter=delimiter,
                timezone=timezone,
            )
        except data_service.DataValidationError as exc:
            bad_options = exc.defects
        if upload is None:
            st.error("Choose a file to upload first.")
        elif not name.strip():
            st.error("Dataset name: enter a name, for example my_fund.")
        elif bad_options:
            for defect in bad_options:
                label = FORMAT_FIELDS.get(defect.column or "", "File format")
                st.error(f"{label}: {defect.message.split(': ', 1)[-1]}")
        else:
            try:
                result = data_service.import_upload(
                    name, upload.name, upload.getvalue(), fmt, actor=current_actor()
                )
            except data_service.DataValidationError as exc:
                show_defects(exc.defects, upload.name)
            except PermissionDenied as exc:
                st.error(f"Import refused: {exc}.")
            else:
                cached.clear_data()
                st.session_state[state.LAST_IMPORT] = result.name
                st.success(
                    f"Imported {result.rows:,} rows ({result.start} → {result.end}, columns "
                    f"{', '.join(result.columns)}) as **uploads/{result.name}**."
                )
                for warning in result.warnings:
                    st.warning(warning)
