#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:55432 for the PostgreSQL tests (CI only).
# Best effort: prints the URL to use on success, nothing on failure.
set -u
PORT=55432
DATA=/tmp/workbench-pgdata
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$BIN" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
    >/tmp/workbench-pg-install.log 2>&1 || true
  BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
[ -n "$BIN" ] || exit 0
RUN="bash -c"
[ "$(id -u)" = 0 ] && RUN="su postgres -s /bin/bash -c"
if ! pg_isready -h 127.0.0.1 -p $PORT >/dev/null 2>&1; then
  rm -rf "$DATA" && mkdir -p "$DATA" && { [ "$(id -u)" != 0 ] || chown postgres "$DATA"; }
  $RUN "$BIN/initdb -D $DATA -A trust -U postgres" >/tmp/workbench-pg-init.log 2>&1 || exit 0
  $RUN "$BIN/pg_ctl -D $DATA -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1' \
        -l /tmp/workbench-pg.log -w start" >/dev/null 2>&1 || exit 0
fi
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
