# syntax=docker/dockerfile:1
# The workbench image: one image for the app (Streamlit), the API, the paper worker, the
# jobs worker and the Dask scheduler/workers (docker-compose.yml picks the command).
# The build runs the same Makefile targets as CI (`make setup`, which runs `make install`:
# uv installs requirements.lock, then the project itself), so the image holds exactly
# the locked versions CI tested. No secret is baked in: the database URL, the secret key
# and the Alpaca keys come from the environment or docker secrets at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: the virtualenv from the lock file, bytecode and numba's cache -----------
FROM ${PYTHON_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# make runs the Makefile; build-essential is not needed (every locked package has a wheel).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 \
    UV_LINK_MODE=copy \
    NUMBA_CACHE_DIR=/opt/numba-cache
COPY . .
# `make setup` = `make install` (venv from requirements.lock) + `workbench setup` (data
# checksums, migration, numba warm-up, the Regimes page's default fit) + compileall. The
# database and the generated key land in a throwaway folder that is not copied on.
RUN WORKBENCH_VAR_DIR=/tmp/build-var make setup PY=python3 \
    && rm -rf /tmp/build-var

# ---- runtime: the virtualenv and the code, run as a non-root user ----------------------
FROM ${PYTHON_IMAGE} AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# make: `make run` (and `make setup`) are the app's commands, as on a single machine.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 workbench \
    && useradd --uid 10001 --gid workbench --home-dir /home/workbench --create-home \
        --shell /usr/sbin/nologin workbench
WORKDIR /app
COPY --from=builder /app /app
COPY --from=builder --chown=workbench:workbench /opt/numba-cache /opt/numba-cache
RUN mkdir -p /app/var && chown workbench:workbench /app/var
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/opt/numba-cache \
    WORKBENCH_VAR_DIR=/app/var \
    MPLBACKEND=Agg
USER 10001:10001
VOLUME ["/app/var"]
EXPOSE 8000 8501
# The API's health check. The app, the workers and Dask override it in docker-compose.yml
# (Streamlit's /_stcore/health, each worker's /metrics port, Dask's /health).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
CMD ["workbench", "api", "--host", "0.0.0.0", "--port", "8000"]
