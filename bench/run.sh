#!/bin/sh
# bench/run.sh -- measures mediflowd against Redis on this machine, in one run.
#
# usage: sh bench/run.sh [BUILD_DIR]        (`make bench` does this)
#
# Starts a throwaway mediflowd (fresh data dir, --demo, rate limits raised)
# and a throwaway redis-server, both on loopback ports nobody else uses, then:
#   a) redis-benchmark GET, 50 connections          (the yardstick)
#   b) loadgen health, 50 connections
#   c) loadgen auth.me, 50 connections, as admin
#   d) the ratios to Redis            (target: auth.me >= 0.6x, p99 < 2 ms)
#   e) a login storm: 20 connections doing auth.login in a loop while
#      10 others run auth.me          (target: auth.me p99 < 5 ms)
# Everything is torn down on exit, Ctrl-C included. Only 127.0.0.1 is used.
#
# Environment:
#   BENCH_SECONDS=10       measured seconds of each loadgen phase
#   BENCH_ROUNDS=1         repeat a-c this many times, interleaved, and report
#                          each phase's median round (for a busy machine)
#   BENCH_SYNC_FULL=1      0 runs the server with db_synchronous_full = 0
#                          (SQLite synchronous=NORMAL; only logins write)
#   BENCH_WORKERS=         password-hash worker threads (server default: 1)
#   BENCH_PIN=0            1 pins each server to CPU 0 and each client to
#                          CPU 1 (taskset) for phases a-c
#   BENCH_STRICT=0         1 exits non-zero when a target is missed
set -u

O=${1:-build}
SECS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-1}
SYNC_FULL=${BENCH_SYNC_FULL:-1}
WORKERS=${BENCH_WORKERS:-}
PIN=${BENCH_PIN:-0}
STRICT=${BENCH_STRICT:-0}
HOST=127.0.0.1
ADMIN=admin@test.com
STORM_ACCOUNT=receptionist@test.com
PASSWORD=password123

LOADGEN=$O/bench/loadgen
MEDIFLOWD=$O/mediflowd
for f in "$LOADGEN" "$MEDIFLOWD"; do
	[ -x "$f" ] || { echo "bench: $f not built (run 'make bench')" >&2; exit 1; }
done
for f in redis-server redis-benchmark; do
	command -v $f >/dev/null 2>&1 || {
		echo "bench: $f not found (apt-get install redis-server redis-tools)" >&2
		exit 1
	}
done

# Other work on the machine skews every figure here: say so.
NCPU=$(nproc 2>/dev/null || echo 1)
LOAD_START=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo '?')
load_note() {
	awk -v l="$1" -v n="$NCPU" 'BEGIN { if (l + 0 >= n / 2)
		printf "  (busy: load %s on %d CPUs; other work skews these figures)", l, n }'
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mediflow-bench.XXXXXX") || exit 1
MF_PID=
REDIS_PID=
STORM_PID=

cleanup() {
	for pid in $STORM_PID $MF_PID $REDIS_PID; do
		kill "$pid" 2>/dev/null
	done
	for pid in $STORM_PID $MF_PID $REDIS_PID; do
		wait "$pid" 2>/dev/null
	done
	STORM_PID= MF_PID= REDIS_PID=
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

die() {
	echo "bench: $*" >&2
	exit 1
}

# CPU ticks (user + system) a process has used so far.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Server CPU microseconds per request over a phase.
us_per_req() {	# ticks requests
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
	    'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'
}

# The value of key=... on a loadgen RESULT line.
field() {	# line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# Prefixes that pin a command to one CPU (BENCH_PIN=1); taskset execs the
# command, so $! stays the server's own pid.
SRV_CPU=
CLI_CPU=
if [ "$PIN" = 1 ] && command -v taskset >/dev/null 2>&1; then
	SRV_CPU="taskset -c 0"
	CLI_CPU="taskset -c 1"
fi

# --- mediflowd ---

CONF=$TMP/mediflowd.conf
cat >"$CONF" <<EOF
# Limits raised so the bench measures the server, not the rate limiter.
rl_api_staff = 100000000/1s
rl_api = 100000000/1s
rl_auth = 100000000/1s
lockout_failures = 1000000
# Connections that never log in (the health phase) must not be timed out.
login_timeout = 1h
db_synchronous_full = $SYNC_FULL
EOF
[ -n "$WORKERS" ] && echo "workers = $WORKERS" >>"$CONF"

$SRV_CPU "$MEDIFLOWD" --demo --data-dir "$TMP/data" --listen "$HOST:0" \
    --config "$CONF" >"$TMP/mediflowd.out" 2>"$TMP/mediflowd.log" &
MF_PID=$!
MF_PORT=
i=0
while [ $i -lt 150 ]; do
	MF_PORT=$(sed -n 's/^mediflowd listening on .* port \([0-9][0-9]*\)$/\1/p' \
	    "$TMP/mediflowd.out")
	[ -n "$MF_PORT" ] && break
	kill -0 "$MF_PID" 2>/dev/null || { cat "$TMP/mediflowd.log" >&2; die "mediflowd exited"; }
	sleep 0.1
	i=$((i + 1))
done
[ -n "$MF_PORT" ] || die "mediflowd did not start"

# --- redis-server, on a free port: try a few, keep the one that binds ---

REDIS_PORT=
for try in 1 2 3 4 5 6 7 8; do
	port=$(( ($$ * 7 + try * 977 + $(date +%N | sed 's/^0*//;s/^$/0/') % 1000) % 20000 + 30000 ))
	redis-server --port "$port" --bind "$HOST" --save '' --appendonly no \
	    --daemonize no --protected-mode yes --logfile "$TMP/redis.log" \
	    --dir "$TMP" >/dev/null 2>&1 &
	REDIS_PID=$!
	i=0
	while [ $i -lt 50 ]; do
		if grep -q "Ready to accept connections" "$TMP/redis.log" 2>/dev/null; then
			REDIS_PORT=$port
			break
		fi
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$REDIS_PORT" ] && break
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
	rm -f "$TMP/redis.log"
done
[ -n "$REDIS_PORT" ] || die "redis-server would not start"
[ -n "$SRV_CPU" ] && taskset -pc 0 "$REDIS_PID" >/dev/null

echo "bench: mediflowd pid $MF_PID on $HOST:$MF_PORT, redis-server pid $REDIS_PID" \
    "on $HOST:$REDIS_PORT, $NCPU CPUs, load $LOAD_START," \
    "db_synchronous_full=$SYNC_FULL${WORKERS:+, workers=$WORKERS}, pin=$PIN"

# --- a), b), c): ROUNDS rounds, each phase's median round is reported ---

run_loadgen() {	# outfile loadgen-args...
	out=$1
	shift
	t0=$(cpu_ticks "$MF_PID")
	$CLI_CPU "$LOADGEN" -h "$HOST" -p "$MF_PORT" "$@" >"$out" 2>"$out.err"
	rc=$?
	t1=$(cpu_ticks "$MF_PID")
	cat "$out"
	[ -s "$out.err" ] && sed 's/^/  /' "$out.err" >&2
	LAST_TICKS=$((t1 - t0))
	return $rc
}

# Middle line of stdin by its first (numeric) column; the column is dropped.
median_line() {
	sort -g | awk '{ line[NR] = $0 } END {
		l = line[int((NR + 1) / 2)]; sub(/^[^ ]* /, "", l); print l }'
}
median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

redis-benchmark -h "$HOST" -p "$REDIS_PORT" -c 50 -n 1000 -t set -q \
    >/dev/null 2>&1	# a value to GET
: >"$TMP/redis.rounds"
: >"$TMP/health.rounds"
: >"$TMP/me.rounds"
: >"$TMP/me-p99.rounds"
r=1
while [ $r -le "$ROUNDS" ]; do
	[ "$ROUNDS" -gt 1 ] && echo "bench: round $r of $ROUNDS"
	echo "bench: a) redis-benchmark GET, 50 connections, 200000 requests"
	t0=$(cpu_ticks "$REDIS_PID")
	# --csv adds redis-benchmark's own percentiles to its -q answer.
	$CLI_CPU redis-benchmark -h "$HOST" -p "$REDIS_PORT" -c 50 -n 200000 \
	    -t get -q --csv >"$TMP/redis-bench.out" 2>&1 || die "redis-benchmark failed"
	t1=$(cpu_ticks "$REDIS_PID")
	# "GET","rps","avg_ms","min_ms","p50_ms","p95_ms","p99_ms","max_ms"
	line=$(tr '\r' '\n' <"$TMP/redis-bench.out" | grep '^"GET"' | tail -n 1 |
	    tr -d '"' | tr ',' ' ')
	set -- $line
	[ $# -ge 8 ] || { cat "$TMP/redis-bench.out" >&2; die "cannot read redis-benchmark's output"; }
	echo "GET: $2 requests per second, p50=$5 p99=$7 max=$8 msec"
	echo "$2 $2 $5 $7 $8 $(us_per_req $((t1 - t0)) 200000)" >>"$TMP/redis.rounds"

	echo "bench: b) loadgen health, 50 connections, ${SECS} s"
	run_loadgen "$TMP/health.out" -c 50 -d "$SECS" -w 1 -o health -l health ||
	    die "loadgen health failed"
	line=$(grep '^RESULT' "$TMP/health.out")
	echo "$(field "$line" rps) $line us_per_req=$(us_per_req "$LAST_TICKS" \
	    "$(field "$line" requests)")" >>"$TMP/health.rounds"

	echo "bench: c) loadgen auth.me as $ADMIN, 50 connections, ${SECS} s"
	run_loadgen "$TMP/me.out" -c 50 -d "$SECS" -w 1 -o auth.me -e "$ADMIN" \
	    -P "$PASSWORD" -l auth.me || die "loadgen auth.me failed"
	line=$(grep '^RESULT' "$TMP/me.out")
	echo "$(field "$line" rps) $line us_per_req=$(us_per_req "$LAST_TICKS" \
	    "$(field "$line" requests)")" >>"$TMP/me.rounds"
	field "$line" p99_ms >>"$TMP/me-p99.rounds"
	r=$((r + 1))
done
set -- $(median_line <"$TMP/redis.rounds")
REDIS_RPS=$1
REDIS_P50=$2
REDIS_P99=$3
REDIS_MAX=$4
REDIS_US=$5
HEALTH=$(median_line <"$TMP/health.rounds")
HEALTH_US=$(field "$HEALTH" us_per_req)
ME=$(median_line <"$TMP/me.rounds")
ME_US=$(field "$ME" us_per_req)
ME_P99_MEDIAN=$(median <"$TMP/me-p99.rounds")

# --- e) login storm ---

STORM_SECS=$((SECS + 4))
echo "bench: e) login storm: 20 connections auth.login as $STORM_ACCOUNT for" \
    "${STORM_SECS} s; auth.me at 10 connections for ${SECS} s in the middle"
"$LOADGEN" -h "$HOST" -p "$MF_PORT" -L -c 20 -d "$STORM_SECS" -w 1 \
    -e "$STORM_ACCOUNT" -P "$PASSWORD" -l storm-login \
    >"$TMP/storm.out" 2>"$TMP/storm.err" &
STORM_PID=$!
sleep 2	# let the hash queue fill
"$LOADGEN" -h "$HOST" -p "$MF_PORT" -c 10 -d "$SECS" -w 1 -o auth.me \
    -e "$ADMIN" -P "$PASSWORD" -l storm-auth.me >"$TMP/storm-me.out" \
    2>"$TMP/storm-me.err" || { cat "$TMP/storm-me.err" >&2; die "loadgen auth.me (storm) failed"; }
wait "$STORM_PID" || { cat "$TMP/storm.err" >&2; STORM_PID=; die "loadgen login storm failed"; }
STORM_PID=
cat "$TMP/storm.out" "$TMP/storm-me.out"
STORM=$(grep '^RESULT' "$TMP/storm.out")
STORM_ME=$(grep '^RESULT' "$TMP/storm-me.out")

# --- d) and the summary ---

H_RPS=$(field "$HEALTH" rps)
M_RPS=$(field "$ME" rps)
SM_P99=$(field "$STORM_ME" p99_ms)
M_P99=$ME_P99_MEDIAN
ERRORS=$(( $(cat "$TMP/health.rounds" "$TMP/me.rounds" | tr ' ' '\n' |
    sed -n 's/^errors=//p' | awk '{ n += $1 } END { print n + 0 }') + \
    $(field "$STORM" errors) + $(field "$STORM_ME" errors) ))

verdict=$(awk -v m="$M_RPS" -v r="$REDIS_RPS" -v p="$M_P99" -v s="$SM_P99" '
BEGIN {
	ratio = m / r
	printf "%s %s %s\n", (ratio >= 0.6 ? "PASS" : "MISS"), (p < 2 ? "PASS" : "MISS"), (s < 5 ? "PASS" : "MISS")
}')
V_RATIO=${verdict%% *}
rest=${verdict#* }
V_P99=${rest%% *}
V_STORM=${rest#* }

row() {	# name line server-us
	printf '%-22s %10s %8s %8s %8s %8s %7s %9s\n' "$1" "$(field "$2" rps)" \
	    "$(field "$2" p50_ms)" "$(field "$2" p99_ms)" "$(field "$2" p999_ms)" \
	    "$(field "$2" max_ms)" "$(field "$2" errors)" "$3"
}

echo
LOAD_END=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo '?')
echo "=== MediFlow bench summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), $NCPU CPUs, db_synchronous_full=$SYNC_FULL${WORKERS:+, workers=$WORKERS}, pin=$PIN, rounds=$ROUNDS)"
echo "load average before the run $LOAD_START, after $LOAD_END$(load_note "$LOAD_START")"
[ "$ROUNDS" -gt 1 ] && echo "(rows a-c: the median round by req/s; the auth.me p99 verdict uses the median p99 of all rounds)"
printf '%-22s %10s %8s %8s %8s %8s %7s %9s\n' phase "req/s" "p50 ms" "p99 ms" \
    "p99.9 ms" "max ms" errors "srv us/req"
printf '%-22s %10s %8s %8s %8s %8s %7s %9s\n' "a) redis GET (c=50)" \
    "$REDIS_RPS" "$REDIS_P50" "$REDIS_P99" - "$REDIS_MAX" - "$REDIS_US"
row "b) health (c=50)" "$HEALTH" "$HEALTH_US"
row "c) auth.me (c=50)" "$ME" "$ME_US"
row "e) storm: login (c=20)" "$STORM" -
row "e) storm: auth.me (c=10)" "$STORM_ME" -
echo
awk -v h="$H_RPS" -v m="$M_RPS" -v r="$REDIS_RPS" -v p="$M_P99" -v s="$SM_P99" \
    -v v1="$V_RATIO" -v v2="$V_P99" -v v3="$V_STORM" '
BEGIN {
	printf "d) health / redis GET   = %.2fx\n", h / r
	printf "d) auth.me / redis GET  = %.2fx   target >= 0.60x   %s\n", m / r, v1
	printf "   auth.me p99          = %.3f ms  target < 2 ms     %s\n", p, v2
	printf "e) auth.me p99 in storm = %.3f ms  target < 5 ms     %s\n", s, v3
}'
echo "RESULT-SUMMARY redis_rps=$REDIS_RPS redis_p99_ms=$REDIS_P99 health_rps=$H_RPS authme_rps=$M_RPS" \
    "authme_p99_ms=$M_P99 storm_authme_p99_ms=$SM_P99" \
    "storm_login_rps=$(field "$STORM" rps) errors=$ERRORS" \
    "ratio=$V_RATIO p99=$V_P99 storm=$V_STORM"
echo "(srv us/req: server CPU time per request, from /proc; redis percentiles are redis-benchmark's own)"
[ "$ERRORS" -eq 0 ] || echo "bench: some requests failed; see the errors column" >&2

if [ "$STRICT" = 1 ]; then
	[ "$V_RATIO" = PASS ] && [ "$V_P99" = PASS ] && [ "$V_STORM" = PASS ] &&
	    [ "$ERRORS" -eq 0 ] || exit 1
fi
exit 0
