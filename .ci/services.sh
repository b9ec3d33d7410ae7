#!/usr/bin/env bash
# Redis and PostgreSQL for the integration tests, on 127.0.0.1 under a data directory of this run.
#
#   eval "$(.ci/services.sh start DIR)"   # starts both, prints `export NEWSDESK_TEST_REDIS=… NEWSDESK_TEST_PG=…`
#   .ci/services.sh stop DIR              # stops both (the data directory is left for inspection)
#
# PostgreSQL refuses to run as root: when run as root, initdb/pg_ctl run as the
# `postgres` user (Debian's package creates it) and DIR/pg is handed to it.
# A server whose binaries are missing is skipped with a note on stderr; the tests
# that need it then skip with a reason.
set -euo pipefail

action=${1:?usage: services.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: services.sh start|stop DIR}" && cd "$2" && pwd)
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
start)
    if command -v redis-server >/dev/null; then
        rport=$(free_port)
        mkdir -p "$dir/redis"
        redis-server --port "$rport" --bind 127.0.0.1 --dir "$dir/redis" --daemonize yes \
            --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" --save "" --appendonly no >/dev/null
        for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
        echo "export NEWSDESK_TEST_REDIS=redis://127.0.0.1:$rport/0"
    else
        echo "services.sh: redis-server not installed; Redis tests will skip" >&2
    fi
    if [ -n "$pgbin" ]; then
        pport=$(free_port)
        mkdir -p "$dir/pg"
        if [ "$(id -u)" = 0 ]; then chmod 755 "$dir"; chown postgres "$dir/pg"; chmod 700 "$dir/pg"; fi
        as_pg "$pgbin/initdb" -D "$dir/pg/data" -U newsdesk --auth=trust -E UTF8 --no-locale >"$dir/pg/initdb.log"
        printf "port = %s\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n" \
            "$pport" "$dir/pg" | as_pg tee -a "$dir/pg/data/postgresql.conf" >/dev/null
        as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w start >/dev/null
        as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$pport" -U newsdesk newsdesk_test
        echo "export NEWSDESK_TEST_PG=postgresql://newsdesk@127.0.0.1:$pport/newsdesk_test"
        # For the outage test: `$NEWSDESK_TEST_PG_CTL stop|start` (as the postgres user when root).
        runas=""; [ "$(id -u)" = 0 ] && runas="runuser -u postgres -- "
        echo "export NEWSDESK_TEST_PG_CTL='${runas}$pgbin/pg_ctl -D $dir/pg/data -l $dir/pg/server.log -w'"
    else
        echo "services.sh: postgresql not installed; PostgreSQL tests will skip" >&2
    fi
    ;;
stop)
    if [ -f "$dir/redis/redis.pid" ]; then kill "$(cat "$dir/redis/redis.pid")" 2>/dev/null || true; fi
    if [ -n "$pgbin" ] && [ -d "$dir/pg/data" ]; then
        as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
    fi
    ;;
*)
    echo "usage: services.sh start|stop DIR" >&2; exit 2 ;;
esac
