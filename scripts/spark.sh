#!/usr/bin/env bash
# A local Spark Connect server for the Spark tests: installs (once) Java (apt-get, as root) and PySpark
# (which bundles Spark and its Spark Connect server) into a cached virtual environment, starts one server
# on loopback on a free port with `local[2]`, waits until it answers, and prints its address,
# `sc://127.0.0.1:PORT`. Idempotent: a server this script started and that still answers is reused.
#
#   URL=$(scripts/spark.sh)      # or: scripts/spark.sh start
#   scripts/spark.sh stop        # stops the server this script started, if any
#
# Spark Connect has no authentication: the server listens on 127.0.0.1 only.
# State (pid, port, log) lives in MIDNET_SPARK_STATE (default ~/.cache/midnet-spark); the environment in
# MIDNET_SPARK_VENV (default ~/.cache/midnet-spark-venv). Exits 3 with a message on stderr when Java or
# PySpark cannot be installed, 4 when the server does not answer within MIDNET_SPARK_WAIT seconds (180).
set -euo pipefail

# Close every open file descriptor above stderr in this (sub)shell.
close_inherited_files() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}
PYSPARK_VERSION=4.0.1
VENV="${MIDNET_SPARK_VENV:-$HOME/.cache/midnet-spark-venv}"
STATE="${MIDNET_SPARK_STATE:-$HOME/.cache/midnet-spark}"
WAIT="${MIDNET_SPARK_WAIT:-180}"
mkdir -p "$STATE"

fail() {
    code=$1
    shift
    echo "spark.sh: $*" >&2
    exit "$code"
}

ensure_java() {
    command -v java >/dev/null 2>&1 && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        fail 3 "no java found, and it cannot be installed here (needs root and apt-get: apt-get install openjdk-17-jre-headless)"
    fi
    {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless
    } >&2 || fail 3 "apt-get install openjdk-17-jre-headless failed (see above)"
    command -v java >/dev/null 2>&1 || fail 3 "apt-get installed Java but no java is on PATH"
}

ensure_pyspark() {
    [ -x "$VENV/bin/python" ] && [ -f "$VENV/.complete-$PYSPARK_VERSION" ] && return 0
    rm -rf "$VENV"
    {
        python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --upgrade pip &&
            "$VENV/bin/pip" install --quiet "pyspark==$PYSPARK_VERSION"
    } >&2 || fail 3 "installing pyspark==$PYSPARK_VERSION into $VENV failed (see above)"
    touch "$VENV/.complete-$PYSPARK_VERSION"
}

spark_home() {
    "$VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

# Whether something accepts TCP connections on 127.0.0.1:$1.
answers() {
    "$VENV/bin/python" - "$1" <<'EOF' 2>/dev/null
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2):
    pass
EOF
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running_pid() {
    [ -f "$STATE/pid" ] || return 1
    pid=$(cat "$STATE/pid")
    kill -0 "$pid" 2>/dev/null || return 1
    echo "$pid"
}

start() {
    ensure_java
    ensure_pyspark
    if running_pid >/dev/null && [ -f "$STATE/port" ] && answers "$(cat "$STATE/port")"; then
        echo "sc://127.0.0.1:$(cat "$STATE/port")"
        return 0
    fi
    stop
    home=$(spark_home)
    port=$(free_port)
    # setsid: the server outlives this script and is stopped as one process group. It must inherit
    # no open file but stdio: not this script's lock (fd 9), and not a lock held by whoever ran
    # this script (e.g. `flock LOCK cargo test` leaves LOCK open on fd 3), or that lock would be
    # held for as long as the server runs.
    # spark.buffer.pageSize: a broadcast join's hash table takes at least one page, outside the
    # memory manager's account, and Spark's default page (execution memory / cores / 16: 32 MiB with
    # 2 GB) made one step of the protocol's query (58 broadcast joins) need ~1.9 GB of heap for a few
    # KB of rows: it spun in 'Failed to allocate a page' (docs/spark.md, "The protocol's query").
    (
    close_inherited_files
    SPARK_HOME="$home" PYSPARK_PYTHON="$VENV/bin/python" exec setsid "$home/bin/spark-submit" \
        --class org.apache.spark.sql.connect.service.SparkConnectServer \
        --name "midnet Spark Connect" --master 'local[2]' \
        --driver-memory "${MIDNET_SPARK_MEMORY:-2g}" \
        --conf spark.driver.bindAddress=127.0.0.1 --conf spark.driver.host=127.0.0.1 \
        --conf spark.ui.enabled=false \
        --conf spark.sql.shuffle.partitions=2 \
        --conf spark.buffer.pageSize=1m \
        --conf spark.sql.session.timeZone=UTC \
        --conf spark.connect.grpc.binding.address=127.0.0.1 \
        --conf "spark.connect.grpc.binding.port=$port" \
        --conf "spark.sql.warehouse.dir=$STATE/warehouse" \
        --conf "spark.driver.extraJavaOptions=-Dderby.system.home=$STATE" \
        spark-internal >"$STATE/server.log" 2>&1 </dev/null
    ) &
    echo $! >"$STATE/pid"
    echo "$port" >"$STATE/port"
    for _ in $(seq "$WAIT"); do
        if answers "$port"; then
            echo "sc://127.0.0.1:$port"
            return 0
        fi
        running_pid >/dev/null || fail 4 "the Spark Connect server exited while starting; its log: $STATE/server.log"
        sleep 1
    done
    stop
    fail 4 "the Spark Connect server did not answer on 127.0.0.1:$port within ${WAIT}s; its log: $STATE/server.log"
}

stop() {
    if pid=$(running_pid); then
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
        for _ in $(seq 30); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 1
        done
        kill -9 -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pid" "$STATE/port"
}

# One start or stop at a time (tests, a developer's shell).
exec 9>"$STATE/lock"
flock 9
case "${1:-start}" in
start) start ;;
stop) stop ;;
*) fail 2 "usage: spark.sh [start|stop]" ;;
esac
