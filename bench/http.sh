#!/bin/sh
# bench/http.sh -- the HTTP adapter against Express 5, in one run.
#
# usage: sh bench/http.sh [BUILD_DIR]          (`make bench-http` runs it)
#
# Starts a throwaway mediflowd with --demo and --http (rate limits raised,
# everything else default) and, as the original stack's ceiling, an Express 5
# hello-world JSON route (bench/express, installed from npm into
# bench/express/node_modules: bench only, never the product; run with
# NODE_ENV=production, as it would be deployed). Both are one process with
# one event loop. Then wrk, with the same threads, connections and duration
# for each, alternating rounds:
#   a) Express GET /api/health          (a constant JSON object: the ceiling)
#   b) mediflowd GET /api/health        (the health op: a store query)
#      target >= 6x a)
#   c) mediflowd GET /api/appointments/available-slots?doctorId=1&date=D
#      as the demo patient (cookie session; appt.slots needs a login)
#      target >= 3x a)
# and prints requests/s (the median of the rounds) and the ratios. It also
# prints each server's CPU time per request (user + system, from /proc), to
# compare builds by their own cost: on a busy machine requests/s measure
# the scheduler as much as the server. (Node's CPU per request grows under
# load too, so that ratio is no stand-in for the targets.)
# Installs wrk with apt-get and express with npm when they are missing.
#
# Environment:
#   BENCH_HTTP_SECONDS=5     measured seconds per wrk run
#   BENCH_HTTP_ROUNDS=3      rounds (each runs a, b and c once)
#   BENCH_HTTP_CONNS=50      wrk connections
#   BENCH_HTTP_THREADS=2     wrk threads
#   BENCH_STRICT=0           1 exits non-zero when a target is missed
set -u

O=${1:-build}
SECS=${BENCH_HTTP_SECONDS:-5}
ROUNDS=${BENCH_HTTP_ROUNDS:-3}
CONNS=${BENCH_HTTP_CONNS:-50}
THREADS=${BENCH_HTTP_THREADS:-2}
STRICT=${BENCH_STRICT:-0}
HERE=$(cd "$(dirname "$0")" && pwd)
MEDIFLOWD=$O/mediflowd

die() {
	echo "bench: $*" >&2
	exit 1
}

[ -x "$MEDIFLOWD" ] || die "$MEDIFLOWD not built (run 'make O=$O all')"
command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install curl)"
if ! command -v wrk >/dev/null 2>&1; then
	echo "bench: installing wrk"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $SUDO apt-get install -y -qq wrk >/dev/null || die "cannot install wrk"
fi
command -v node >/dev/null 2>&1 || die "node not found (apt-get install nodejs npm)"
if [ ! -d "$HERE/express/node_modules/express" ]; then
	echo "bench: installing express 5 into bench/express/node_modules"
	(cd "$HERE/express" && npm install --no-audit --no-fund --silent) ||
	    die "npm install failed"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mediflow-http.XXXXXX") || exit 1
MF_PID=
EX_PID=

cleanup() {
	for pid in $MF_PID $EX_PID; do
		kill "$pid" 2>/dev/null
	done
	for pid in $MF_PID $EX_PID; do
		wait "$pid" 2>/dev/null
	done
	MF_PID= EX_PID=
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

# Waits for a line matching $2 in file $1 and prints its last field.
wait_port() {	# file pattern pid
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 300 ] && return 1
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	grep "$2" "$1" | head -n 1 | awk '{ print $NF }'
}

# --- the servers ---

cat >"$TMP/mediflowd.conf" <<EOF
rl_api = 100000000/1s
rl_api_staff = 100000000/1s
http_max_conns = 4096
EOF
"$MEDIFLOWD" --demo --data-dir "$TMP/data" --config "$TMP/mediflowd.conf" \
    --listen 127.0.0.1:0 --http 127.0.0.1:0 >"$TMP/mf.out" 2>"$TMP/mf.log" &
MF_PID=$!
MF_PORT=$(wait_port "$TMP/mf.out" "mediflowd http on" $MF_PID) ||
    { cat "$TMP/mf.log" >&2; die "mediflowd did not start"; }
MF=http://127.0.0.1:$MF_PORT

NODE_ENV=production node "$HERE/express/server.js" 0 >"$TMP/ex.out" \
    2>"$TMP/ex.log" &
EX_PID=$!
EX_PORT=$(wait_port "$TMP/ex.out" "express listening" $EX_PID) ||
    { cat "$TMP/ex.log" >&2; die "express did not start"; }
EX=http://127.0.0.1:$EX_PORT

# --- a patient's session (the page's way: the page sets the CSRF cookie,
# then login) ---

JAR=$TMP/jar
curl -s -c "$JAR" -b "$JAR" "$MF/" >/dev/null || die "no answer from $MF"
CSRF=$(awk '$6 == "mf_csrf" { print $7 }' "$JAR")
curl -s -c "$JAR" -b "$JAR" -H "X-CSRF-Token: $CSRF" \
    -H 'Content-Type: application/json' \
    -d '{"email":"patient@test.com","password":"password123"}' \
    "$MF/api/auth/login" >"$TMP/login.json"
SESSION=$(awk '$6 == "mf_session" { print $7 }' "$JAR")
[ -n "$SESSION" ] || { cat "$TMP/login.json" >&2; die "login failed"; }
COOKIE="mf_session=$SESSION; mf_csrf=$CSRF"

# A day with free slots for doctor 1 within two weeks.
DATE=
for d in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
	day=$(date -u -d "+$d days" +%Y-%m-%d)
	n=$(curl -s -H "Cookie: $COOKIE" \
	    "$MF/api/appointments/available-slots?doctorId=1&date=$day" |
	    grep -o '"starts_at"' | wc -l)
	if [ "$n" -gt 0 ]; then
		DATE=$day
		SLOTS=$n
		break
	fi
done
[ -n "$DATE" ] || die "doctor 1 has no free slots within two weeks"
SLOTS_URL="$MF/api/appointments/available-slots?doctorId=1&date=$DATE"
curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE" "$SLOTS_URL" |
    grep -q 200 || die "available-slots does not answer 200"

# --- wrk ---

# CPU clock ticks (user + system) the process has used.
cpu_ticks() {	# pid
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Prints requests/s and the server's CPU microseconds per request; reports
# errors and non-2xx answers.
run_wrk() {	# name pid url [header]
	name=$1 pid=$2 url=$3
	shift 3
	t0=$(cpu_ticks "$pid")
	if [ $# -gt 0 ]; then
		wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" -H "$1" "$url" >"$TMP/wrk.$name" 2>&1
	else
		wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" "$url" >"$TMP/wrk.$name" 2>&1
	fi
	t1=$(cpu_ticks "$pid")
	if grep -q 'Non-2xx\|Socket errors' "$TMP/wrk.$name"; then
		echo "bench: $name: errors:" >&2
		grep 'Non-2xx\|Socket errors' "$TMP/wrk.$name" >&2
	fi
	awk -v t="$((t1 - t0))" -v hz="$HZ" '
	    / requests in / { n = $1 }
	    /^Requests\/sec:/ { r = $2 }
	    END { printf "%s %.1f\n", r, (n > 0 ? t * 1e6 / hz / n : 0) }' \
	    "$TMP/wrk.$name"
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

HZ=$(getconf CLK_TCK)
echo "bench/http.sh: wrk -t$THREADS -c$CONNS -d${SECS}s, $ROUNDS rounds, $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  slots day $DATE (doctor 1, $SLOTS free slots)"
echo "  each: req/s, server CPU us/request"
: >"$TMP/ex.rps"; : >"$TMP/health.rps"; : >"$TMP/slots.rps"
r=1
while [ $r -le "$ROUNDS" ]; do
	ex=$(run_wrk express $EX_PID "$EX/api/health")
	he=$(run_wrk health $MF_PID "$MF/api/health")
	sl=$(run_wrk slots $MF_PID "$SLOTS_URL" "Cookie: $COOKIE")
	echo "  round $r: express $ex  health $he  available-slots $sl" \
	    "(load $(cut -d' ' -f1 /proc/loadavg))"
	echo "$ex" >>"$TMP/ex.rps"
	echo "$he" >>"$TMP/health.rps"
	echo "$sl" >>"$TMP/slots.rps"
	r=$((r + 1))
done
EXR=$(cut -d' ' -f1 "$TMP/ex.rps" | median)
HER=$(cut -d' ' -f1 "$TMP/health.rps" | median)
SLR=$(cut -d' ' -f1 "$TMP/slots.rps" | median)
EXC=$(cut -d' ' -f2 "$TMP/ex.rps" | median)
HEC=$(cut -d' ' -f2 "$TMP/health.rps" | median)
SLC=$(cut -d' ' -f2 "$TMP/slots.rps" | median)
kill -0 $MF_PID 2>/dev/null || die "mediflowd died during the run"

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
meets() {	# ratio target
	awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "MISSED" }'
}
HRAT=$(ratio "$HER" "$EXR")
SRAT=$(ratio "$SLR" "$EXR")
HOK=$(meets "$HRAT" 6)
SOK=$(meets "$SRAT" 3)
echo
printf '%-48s %10s %8s %8s %8s\n' "median of $ROUNDS rounds" "req/s" \
    "x Expr" "CPU us" "x Expr"
printf '%-48s %10s %8s %8s %8s\n' "Express 5 GET /api/health (ceiling)" \
    "$EXR" "1.00" "$EXC" "1.00"
printf '%-48s %10s %8s %8s %8s  target >= 6x: %s\n' \
    "mediflowd GET /api/health" "$HER" "$HRAT" "$HEC" \
    "$(ratio "$EXC" "$HEC")" "$HOK"
printf '%-48s %10s %8s %8s %8s  target >= 3x: %s\n' \
    "mediflowd GET /api/appointments/available-slots" "$SLR" "$SRAT" \
    "$SLC" "$(ratio "$EXC" "$SLC")" "$SOK"
echo "(the targets are on req/s; CPU us: the server's user + system time" \
    "per request)"

if [ "$STRICT" = 1 ] && { [ "$HOK" != met ] || [ "$SOK" != met ]; }; then
	exit 1
fi
exit 0
