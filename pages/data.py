"""Data page: browse embedded datasets, chart them, import validated files."""

from __future__ import annotations

import streamlit as st

from app import cached, state
from app.components.charts import render_price_chart
from app.components.widgets import pct, render_defects, render_metric_cards
from app.services import data as data_service

st.title("Data")
dataset, symbol = state.get(state.DATASET), state.get(state.SYMBOL)
info = next((i for i in cached.dataset_infos() if i["name"] == dataset), None)
if info:
    st.caption(
        f"**{dataset}**: {info['description']} · source: {info['source']} · "
        f"license: {info['license']}"
    )

chart_tab, table_tab, upload_tab = st.tabs(["Chart", "Table", "Upload"])

with chart_tab:
    if symbol is None:
        st.info(
            "This dataset has no symbols yet. Use the Upload tab to import a CSV or Parquet file."
        )
    else:
        full = cached.prices(dataset, symbol, None, None)
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
            st.stop()
        stats = data_service.summary_stats(frame)
        render_metric_cards(
            [
                ("Bars", f"{stats['bars']:,}"),
                ("Last close", f"{stats['last_close']:,.2f}"),
                ("Total return", pct(float(stats["total_return"]))),
                ("CAGR", pct(float(stats["cagr"]))),
                ("Annual volatility", pct(float(stats["annual_volatility"]))),
                ("Max drawdown", pct(float(stats["max_drawdown"]))),
                ("Best day", pct(float(stats["best_day"]))),
                ("Worst day", pct(float(stats["worst_day"]))),
            ]
        )
        kind = "candlestick" if "open" in frame else "close line (closes only)"
        render_price_chart(
            frame,
            title=f"{symbol} · {stats['start']} → {stats['end']} · {kind}",
            log_scale=bool(state.get(state.LOG_SCALE)),
        )

with table_tab:
    if symbol is not None:
        frame = cached.prices(dataset, symbol, None, None)
        st.dataframe(frame.describe().T, width="stretch")
        st.dataframe(frame.tail(250).iloc[::-1], width="stretch", height=360)
        st.download_button(
            "Download CSV",
            frame.to_csv().encode(),
            file_name=f"{dataset}_{symbol}.csv",
            mime="text/csv",
        )

with upload_tab:
    st.markdown(
        "Upload daily prices as **CSV** or **Parquet**: a `date` column and a `close` column "
        "are required; `open`, `high`, `low`, `volume` are optional. Every defect is listed; "
        "nothing is stored unless the whole file is valid."
    )
    with st.form("data.upload_form", clear_on_submit=False):
        upload = st.file_uploader("Price file", type=["csv", "parquet", "pq"], key="data.upload")
        name = st.text_input("Dataset name", key=state.UPLOAD_NAME, placeholder="e.g. my_fund")
        submitted = st.form_submit_button("Validate and import", type="primary")
    if submitted:
        if upload is None:
            st.error("Choose a file to upload first.")
        elif not name.strip():
            st.error("Dataset name: enter a name, for example my_fund.")
        else:
            try:
                result = data_service.import_upload(name.strip(), upload.name, upload.getvalue())
            except data_service.DataValidationError as exc:
                render_defects(exc.defects, source=upload.name)
            else:
                cached.clear_data()
                st.session_state[state.LAST_IMPORT] = result.name
                st.success(
                    f"Imported {result.rows:,} rows ({result.start} → {result.end}, columns "
                    f"{', '.join(result.columns)}) as **uploads/{result.name}**."
                )
                for warning in result.warnings:
                    st.warning(warning)
