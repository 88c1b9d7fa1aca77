#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests, listening on 127.0.0.1 only.
#
#   eval "$(bash tests/postgres.sh start)"   installs PostgreSQL with apt-get when it is missing
#                                             (root only), starts a server in a new temporary
#                                             directory and prints the exports of
#                                             ERRBOT_TEST_POSTGRES_URL (a database the tests may
#                                             use to create their own) and ERRBOT_TEST_POSTGRES_DIR
#   bash tests/postgres.sh stop [DIR]         stops it and removes its directory (default:
#                                             $ERRBOT_TEST_POSTGRES_DIR)
#
# As root the server runs as the `postgres` user (PostgreSQL refuses to run as root). Connections
# are trusted: the server only listens on loopback and on a socket in its private directory.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin="$(bindir)"
    if [ -z "$bin" ]; then
        if [ "$(id -u)" != 0 ]; then
            log "PostgreSQL is not installed; install the Debian package postgresql (as root)"
            exit 1
        fi
        log "installing PostgreSQL with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin="$(bindir)"
        [ -n "$bin" ] || { log "initdb not found after installing postgresql"; exit 1; }
    fi
    local dir port
    dir="$(mktemp -d /tmp/errbot-pg.XXXXXX)"
    chmod 0700 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
    fi
    # A free port on loopback, chosen by the kernel.
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on" \
        start >&2 || { cat "$dir/server.log" >&2; exit 1; }
    "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE errbot_test" >&2
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') serving on 127.0.0.1:$port (data in $dir)"
    echo "export ERRBOT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/errbot_test"
    echo "export ERRBOT_TEST_POSTGRES_DIR=$dir"
}

stop() {
    local dir="${1:-${ERRBOT_TEST_POSTGRES_DIR:-}}"
    [ -n "$dir" ] && [ -d "$dir/data" ] || { log "no server directory given"; exit 1; }
    local bin
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 start | stop [DIR]" >&2; exit 2 ;;
esac
