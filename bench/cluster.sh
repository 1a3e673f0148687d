#!/usr/bin/env bash
# Joins per second and reservation throughput in real cluster mode, on this machine, in one command:
#
#   bash bench/cluster.sh [JoinBenchmark options] [--reservation ReservationBenchmark options]
#
# It builds the solution once (dotnet build TicketQueue.sln -c Release), then, in a temporary folder and on
# free loopback ports:
#   - a throwaway PostgreSQL (initdb, trust authentication) with default durability (fsync on,
#     synchronous_commit on) and max_connections 200 (PG_MAX_CONNECTIONS), with init-db.sql applied to a
#     database "ticketqueue";
#   - redis-server with the append-only file on: appendonly yes, appendfsync everysec (Redis' default for
#     AOF; the integration tests use always), no RDB snapshots;
#   - $SILOS silos (default 2), src/Silo in cluster mode, configured only by environment variables as
#     docs/cluster.md describes, each started from its output folder;
# waits until every silo's gateway port listens, then runs bench/JoinBenchmark and bench/ReservationBenchmark
# one after the other, each a separate process acting as an Orleans client of the cluster
# (--cluster-client), which print their results and tables. On exit, also on failure or Ctrl-C, it stops
# everything it started and deletes the folder.
#
# Options before --reservation go to the join benchmark, options after it to the reservation benchmark; they
# come after this script's defaults, so the same option given again wins:
#   join:        --users 100000
#   reservation: --blocks 10 --seats 20000 --users 10000 --pick best-available --buyers 64 (about a minute of purchases here; 2 seats each)
# Examples:
#   bash bench/cluster.sh
#   bash bench/cluster.sh --users 200000
#   bash bench/cluster.sh --users 50000 --concurrency 512 --reservation --seats 10000 --buyers 128
#   BENCHMARKS=reservation SKIP_BUILD=1 bash bench/cluster.sh
#
# Environment:
#   BENCHMARKS   which to run, in order: "join reservation" (default), "join" or "reservation"
#   SILOS        silo processes (default 2)
#   SKIP_BUILD=1 use the binaries of an earlier Release build
#   MAX_LOAD     before each benchmark, wait (up to 10 minutes) until the 1-minute load average is below this
#                (e.g. 0.5); unset: do not wait. Other processes on the machine share its cores.
#   KEEP_LOGS    a folder to copy the silos', PostgreSQL's and Redis' logs into before the temporary folder goes
#   PG_MAX_CONNECTIONS  PostgreSQL's max_connections (default 200)
#
# Needs, and installs none of them: dotnet, PostgreSQL server binaries (/usr/lib/postgresql/*/bin, or PG_BIN),
# psql, redis-server. Under root, PostgreSQL runs as the "postgres" user (it refuses to run as root).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

fail() {
    echo "cluster.sh: $*" >&2
    exit 1
}

# --- arguments --------------------------------------------------------------------------------------------
join_args=()
reservation_args=()
target=join
for arg in "$@"; do
    if [ "$arg" = "--reservation" ]; then
        target=reservation
    elif [ "$target" = join ]; then
        join_args+=("$arg")
    else
        reservation_args+=("$arg")
    fi
done
benchmarks=${BENCHMARKS:-join reservation}
silo_count=${SILOS:-2}
[[ "$silo_count" =~ ^[1-9][0-9]*$ ]] || fail "SILOS must be a positive integer, not '$silo_count'."
for benchmark in $benchmarks; do
    [[ "$benchmark" = join || "$benchmark" = reservation ]] || fail "BENCHMARKS may name join and reservation, not '$benchmark'."
done

# --- what this machine has --------------------------------------------------------------------------------
command -v dotnet >/dev/null || fail "dotnet is not on PATH."
pg_bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] \
    || fail "no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin; install the postgresql package or set PG_BIN."
psql=$(command -v psql || echo "$pg_bin/psql")
[ -x "$psql" ] || fail "psql is not installed (postgresql-client)."
redis_server=$(command -v redis-server) || fail "redis-server is not installed (redis-server package)."
as_postgres=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || fail "running as root, but there is no 'postgres' user to run PostgreSQL as."
    as_postgres=(runuser -u postgres --)
fi

# --- clean-up, whatever happens ---------------------------------------------------------------------------
work=""
bench_pid=""
silo_pids=()
redis_pid=""
pg_data=""

# Sends SIGTERM, then SIGKILL if the process is still there after the given seconds.
stop_process() {
    local pid=$1 seconds=$2
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq $((seconds * 5))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    echo "  pid $pid did not stop within ${seconds} s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$work" ]; then
        echo
        echo "Stopping the cluster and deleting $work"
        if [ "$status" -ne 0 ]; then
            for log in "$work"/silo-*.log "$work"/postgres.log "$work"/redis.log; do
                [ -f "$log" ] && { echo "--- last lines of $(basename "$log")"; tail -n 30 "$log"; }
            done
        fi

        [ -n "$bench_pid" ] && stop_process "$bench_pid" 5
        # Silos first: a stopping silo deactivates its grains, which write their state to PostgreSQL.
        for pid in "${silo_pids[@]}"; do
            kill -TERM "$pid" 2>/dev/null
        done
        for pid in "${silo_pids[@]}"; do
            stop_process "$pid" 40
        done
        [ -n "$redis_pid" ] && stop_process "$redis_pid" 20
        if [ -n "$pg_data" ] && [ -f "$pg_data/postmaster.pid" ]; then
            "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w -t 60 stop >/dev/null 2>&1 \
                || "${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1
        fi

        if [ -n "${KEEP_LOGS:-}" ]; then
            mkdir -p "$KEEP_LOGS" && cp "$work"/*.log "$KEEP_LOGS"/ 2>/dev/null && echo "Logs copied to $KEEP_LOGS"
        fi
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers ----------------------------------------------------------------------------------------------
# A loopback port nothing listens on, below Linux's ephemeral range (32768-60999) so that no outgoing
# connection holds it, and not one this script already chose. Sets REPLY.
chosen_ports=" "
free_port() {
    local port
    while true; do
        port=$((10000 + RANDOM % 20000))
        [[ "$chosen_ports" == *" $port "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            chosen_ports+="$port "
            REPLY=$port
            return
        fi
    done
}

# Waits until something listens on the port, failing if the process that should listen has exited.
wait_for_port() {
    local port=$1 pid=$2 name=$3 seconds=$4
    for _ in $(seq $((seconds * 5))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || fail "$name (pid $pid) exited before listening on port $port."
        sleep 0.2
    done
    fail "$name (pid $pid) did not listen on port $port within $seconds s."
}

load_average() {
    cut -d ' ' -f 1-3 /proc/loadavg
}

wait_for_quiet_machine() {
    [ -n "${MAX_LOAD:-}" ] || return 0
    local waited=0
    while awk -v max="$MAX_LOAD" '{ exit !($1 >= max) }' /proc/loadavg; do
        if [ "$waited" -ge 600 ]; then
            echo "  load average still $(load_average) after 10 minutes; running anyway"
            return 0
        fi
        [ $((waited % 30)) -eq 0 ] && echo "  waiting for the 1-minute load average to drop below $MAX_LOAD (now $(load_average))"
        sleep 5
        waited=$((waited + 5))
    done
}

# --- build ------------------------------------------------------------------------------------------------
echo "Machine: $(nproc) cores, $(grep -m 1 'model name' /proc/cpuinfo | cut -d ':' -f 2 | sed 's/^ *//'), " \
    "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1024 / 1024 }' /proc/meminfo), load average $(load_average)"
if [ "${SKIP_BUILD:-}" != 1 ]; then
    echo "Building the solution (Release)"
    dotnet build TicketQueue.sln -c Release --nologo -v minimal >/tmp/ticketqueue-bench-build.$$ 2>&1 \
        || { tail -n 40 /tmp/ticketqueue-bench-build.$$; rm -f /tmp/ticketqueue-bench-build.$$; fail "the build failed."; }
    rm -f /tmp/ticketqueue-bench-build.$$
fi
silo_dll="$repo/src/Silo/bin/Release/net10.0/TicketQueue.Silo.dll"
join_dll="$repo/bench/JoinBenchmark/bin/Release/net10.0/TicketQueue.JoinBenchmark.dll"
reservation_dll="$repo/bench/ReservationBenchmark/bin/Release/net10.0/TicketQueue.ReservationBenchmark.dll"
for dll in "$silo_dll" "$join_dll" "$reservation_dll"; do
    [ -f "$dll" ] || fail "$dll is missing: build first (without SKIP_BUILD)."
done

work=$(mktemp -d /tmp/ticketqueue-cluster-bench.XXXXXX)
# PostgreSQL runs as another user under root: it must be able to enter the folder.
chmod 755 "$work"

# --- PostgreSQL -------------------------------------------------------------------------------------------
max_connections=${PG_MAX_CONNECTIONS:-200}
[[ "$max_connections" =~ ^[1-9][0-9]*$ ]] || fail "PG_MAX_CONNECTIONS must be a positive integer, not '$max_connections'."
free_port
pg_port=$REPLY
pg_data="$work/postgres"
mkdir -p "$pg_data"
[ ${#as_postgres[@]} -gt 0 ] && chown postgres "$pg_data"
"${as_postgres[@]}" "$pg_bin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --no-sync >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log"; fail "initdb failed."; }
touch "$work/postgres.log"
[ ${#as_postgres[@]} -gt 0 ] && chown postgres "$work/postgres.log"
# Only the connection settings differ from PostgreSQL's defaults: fsync and synchronous_commit stay on.
"${as_postgres[@]}" "$pg_bin/pg_ctl" -D "$pg_data" -w -t 60 -l "$work/postgres.log" \
    -o "-p $pg_port -k $pg_data -c listen_addresses=127.0.0.1 -c max_connections=$max_connections" start >/dev/null \
    || fail "PostgreSQL did not start."
pg_pid=$(head -n 1 "$pg_data/postmaster.pid")
pg_psql=("$psql" -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -q)
"${pg_psql[@]}" -d postgres -c "CREATE DATABASE ticketqueue" || fail "could not create the database."
"${pg_psql[@]}" -d ticketqueue -f "$repo/init-db.sql" >"$work/init-db.log" 2>&1 \
    || { cat "$work/init-db.log"; fail "init-db.sql failed."; }
postgres_cs="Host=127.0.0.1;Port=$pg_port;Username=postgres;Database=ticketqueue"
pg_settings=$("${pg_psql[@]}" -d ticketqueue -At -F ', ' -c "SELECT 'PostgreSQL ' || current_setting('server_version'),
    'fsync ' || current_setting('fsync'), 'synchronous_commit ' || current_setting('synchronous_commit'),
    'wal_sync_method ' || current_setting('wal_sync_method'), 'shared_buffers ' || current_setting('shared_buffers'),
    'max_connections ' || current_setting('max_connections')")
echo "PostgreSQL: pid $pg_pid, port $pg_port; $pg_settings"

# --- Redis ------------------------------------------------------------------------------------------------
free_port
redis_port=$REPLY
mkdir -p "$work/redis"
"$redis_server" --port "$redis_port" --bind 127.0.0.1 --protected-mode no --dir "$work/redis" \
    --appendonly yes --appendfsync everysec --save "" --logfile "$work/redis.log" &
redis_pid=$!
wait_for_port "$redis_port" "$redis_pid" "redis-server" 20
redis_cs="127.0.0.1:$redis_port,abortConnect=false"
echo "Redis: pid $redis_pid, port $redis_port; $("$redis_server" --version | cut -d ' ' -f 3), appendonly yes, appendfsync everysec"

# --- silos ------------------------------------------------------------------------------------------------
cluster_id="bench-$(date +%Y%m%d%H%M%S)-$$"
service_id="ticketqueue-bench"
gateway_ports=()
for i in $(seq 1 "$silo_count"); do
    free_port
    silo_port=$REPLY
    free_port
    gateway_port=$REPLY
    # The content root (appsettings.json) is the working directory: start from the dll's folder.
    (
        cd "$(dirname "$silo_dll")" && exec env \
            TicketQueue__Mode=Cluster \
            ConnectionStrings__Postgres="$postgres_cs" \
            ConnectionStrings__Redis="$redis_cs" \
            Orleans__ClusterId="$cluster_id" \
            Orleans__ServiceId="$service_id" \
            Orleans__SiloPort="$silo_port" \
            Orleans__GatewayPort="$gateway_port" \
            Orleans__AdvertisedIP=127.0.0.1 \
            TicketQueue__SeedDemoData=false \
            dotnet "$silo_dll"
    ) >"$work/silo-$i.log" 2>&1 &
    silo_pids+=($!)
    gateway_ports+=("$gateway_port")
    echo "Silo $i: pid ${silo_pids[-1]}, silo port $silo_port, gateway port $gateway_port"
done
for i in $(seq 1 "$silo_count"); do
    wait_for_port "${gateway_ports[$((i - 1))]}" "${silo_pids[$((i - 1))]}" "silo $i" 120
done
echo "Cluster '$cluster_id' (service '$service_id'): every gateway port listens"

client_args=(--cluster-client --redis "$redis_cs" --cluster-id "$cluster_id" --service-id "$service_id"
    --postgres "$postgres_cs" --silo-pids "$(IFS=,; echo "${silo_pids[*]}")" --postgres-pid "$pg_pid" --redis-pid "$redis_pid")

# --- benchmarks -------------------------------------------------------------------------------------------
status=0
tables=()
for benchmark in $benchmarks; do
    if [ "$benchmark" = join ]; then
        command=(dotnet "$join_dll" "${client_args[@]}" --users 100000 "${join_args[@]}")
    else
        command=(dotnet "$reservation_dll" "${client_args[@]}" --blocks 10 --seats 20000 --users 10000 --pick best-available --buyers 64 "${reservation_args[@]}")
    fi

    echo
    echo "=== $benchmark benchmark"
    wait_for_quiet_machine
    echo "load average $(load_average) before starting"
    # In the background with `wait`, so that a signal to this script is handled at once, not after the run.
    exec {bench_out}> >(tee "$work/$benchmark.out")
    tee_pid=$!
    "${command[@]}" >&"$bench_out" &
    bench_pid=$!
    wait "$bench_pid"
    exit_code=$?
    bench_pid=""
    exec {bench_out}>&-
    wait "$tee_pid"
    [ "$exit_code" -eq 0 ] || { status=1; echo "cluster.sh: the $benchmark benchmark exited with $exit_code"; }
    tables+=("$benchmark:" "$(grep '^|' "$work/$benchmark.out")")
done

# --- what the silos logged --------------------------------------------------------------------------------
echo
echo "=== silo logs (warnings and errors)"
for i in $(seq 1 "$silo_count"); do
    log="$work/silo-$i.log"
    count=$(grep -cE '^(warn|fail|crit):' "$log")
    echo "silo $i: $count warning/error entries"
    [ "$count" -gt 0 ] && grep -E '^(warn|fail|crit):' "$log" | sort | uniq -c | sort -rn | head -n 5
    kill -0 "${silo_pids[$((i - 1))]}" 2>/dev/null || { echo "silo $i is no longer running"; status=1; }
done

echo
echo "=== tables"
printf '%s\n' "${tables[@]}"
exit $status
