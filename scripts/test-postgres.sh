#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on a loopback port for the test suite
# and prints its URL. Installs PostgreSQL from Debian's packages if needed.
#
#   eval "$(scripts/test-postgres.sh)"    # exports CONCORD_TEST_POSTGRES_URL
#   scripts/test-postgres.sh fresh NAME   # (re)creates database NAME, prints its URL
#   scripts/test-postgres.sh stop
#
# The cluster runs with fsync off (it is thrown away); set CONCORD_PG_FSYNC=on
# for one whose commits are durable, e.g. for benchmarks.
set -euo pipefail
PORT="${CONCORD_PG_PORT:-55432}"
DIR="${CONCORD_PG_DIR:-/tmp/concord-pg-$PORT}"

bin_dir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    echo "$d"
}

if [ "${1:-start}" = "stop" ]; then
    BIN=$(bin_dir)
    [ -n "$BIN" ] && [ -d "$DIR/data" ] && su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data stop -m fast" >&2 || true
    exit 0
fi

if [ -z "$(bin_dir)" ]; then
    echo "installing postgresql..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi
BIN=$(bin_dir)

if ! su postgres -s /bin/sh -c "$BIN/pg_isready -h 127.0.0.1 -p $PORT" >/dev/null 2>&1; then
    rm -rf "$DIR"
    mkdir -p "$DIR"
    chown postgres "$DIR"
    su postgres -s /bin/sh -c "$BIN/initdb -D $DIR/data -U postgres --auth=trust -E UTF8 --no-instructions" >&2
    su postgres -s /bin/sh -c "$BIN/pg_ctl -D $DIR/data -l $DIR/log -w -o '-h 127.0.0.1 -p $PORT -k $DIR -c fsync=${CONCORD_PG_FSYNC:-off} -c max_connections=200 -c shared_preload_libraries=pg_stat_statements' start" >&2
fi
if [ "${1:-start}" = "fresh" ]; then
    NAME="${2:?usage: test-postgres.sh fresh NAME}"
    su postgres -s /bin/sh -c "$BIN/dropdb -h 127.0.0.1 -p $PORT --if-exists $NAME && $BIN/createdb -h 127.0.0.1 -p $PORT $NAME" >&2
    echo "postgres://postgres@127.0.0.1:$PORT/$NAME"
    exit 0
fi
echo "export CONCORD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
