#!/bin/sh
# bench/fanout.sh -- chat fan-out: one sender, 1,000 connected receivers,
# mediflowd against redis PUBLISH to 1,000 subscribers, in one run.
#
# usage: sh bench/fanout.sh [BUILD_DIR]        (`make bench-fanout` does this)
#
# A MediFlow conversation has two participants, and chat.message goes to every
# online session of both (all their terminals). The receivers are therefore
# 1,000 sessions of one receptionist (one token resumed on 1,000 connections)
# and the sender a doctor in a staff conversation with her: one chat.send is
# stored (group commit) and pushed to 1,000 connections. Redis, the reference,
# gets the same shape: 1,000 connections SUBSCRIBE a channel, one PUBLISHes.
# bench/fanout.c drives both with the same loop and reports, per mode:
#   latency:    one message at a time (the next once all 1,000 have it);
#               send-to-receipt p50/p99 over every delivery
#   throughput: FANOUT_WINDOW sends in flight for BENCH_SECONDS; messages/s
#               acknowledged, deliveries/s received, latency under that load
# and the mediflow/redis ratios. Loopback only; everything is torn down on exit.
#
# Environment:
#   FANOUT_RECEIVERS=1000  FANOUT_LATENCY_MSGS=200  FANOUT_WINDOW=8
#   BENCH_SECONDS=5        BENCH_SYNC_FULL=1 (0: SQLite synchronous=NORMAL)
set -u

O=${1:-build}
N=${FANOUT_RECEIVERS:-1000}
LMSGS=${FANOUT_LATENCY_MSGS:-200}
WINDOW=${FANOUT_WINDOW:-8}
SECS=${BENCH_SECONDS:-5}
SYNC_FULL=${BENCH_SYNC_FULL:-1}
HOST=127.0.0.1

FANOUT=$O/bench/fanout
MEDIFLOWD=$O/mediflowd
for f in "$FANOUT" "$MEDIFLOWD"; do
	[ -x "$f" ] || { echo "bench: $f not built (run 'make bench-fanout')" >&2; exit 1; }
done
command -v redis-server >/dev/null 2>&1 || {
	echo "bench: redis-server not found (make bench-deps)" >&2
	exit 1
}
# 1,000 receivers and their server ends, with room to spare.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

NCPU=$(nproc 2>/dev/null || echo 1)
LOAD_START=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo '?')
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mediflow-fanout.XXXXXX") || exit 1
MF_PID=
REDIS_PID=

cleanup() {
	for pid in $MF_PID $REDIS_PID; do
		kill "$pid" 2>/dev/null
	done
	for pid in $MF_PID $REDIS_PID; do
		wait "$pid" 2>/dev/null
	done
	MF_PID= REDIS_PID=
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM HUP

die() {
	echo "bench: $*" >&2
	exit 1
}

field() {	# line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
ratio() {	# a b
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

# --- mediflowd ---

cat >"$TMP/mediflowd.conf" <<CONF
# Limits raised so the bench measures fan-out, not the limiters.
rl_api_staff = 100000000/1s
rl_api = 100000000/1s
rl_auth = 100000000/1s
rl_msg = 100000000/1s
max_conns = $((N + 100))
login_timeout = 1h
db_synchronous_full = $SYNC_FULL
CONF
"$MEDIFLOWD" --demo --data-dir "$TMP/data" --listen "$HOST:0" \
    --config "$TMP/mediflowd.conf" >"$TMP/mediflowd.out" 2>"$TMP/mediflowd.log" &
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

# --- redis-server on a free port ---

REDIS_PORT=
for try in 1 2 3 4 5 6 7 8; do
	port=$(( ($$ * 7 + try * 977 + $(date +%N | sed 's/^0*//;s/^$/0/') % 1000) % 20000 + 30000 ))
	redis-server --port "$port" --bind "$HOST" --save '' --appendonly no \
	    --daemonize no --protected-mode yes --maxclients $((N + 100)) \
	    --logfile "$TMP/redis.log" --dir "$TMP" >/dev/null 2>&1 &
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

echo "bench: fan-out to $N receivers; mediflowd pid $MF_PID on $HOST:$MF_PORT," \
    "redis-server pid $REDIS_PID on $HOST:$REDIS_PORT; $NCPU CPUs, load" \
    "$LOAD_START, db_synchronous_full=$SYNC_FULL"

"$FANOUT" -m redis -p "$REDIS_PORT" -n "$N" -l "$LMSGS" -d "$SECS" \
    -w "$WINDOW" >"$TMP/redis.res" || die "fanout (redis) failed"
cat "$TMP/redis.res"
"$FANOUT" -m mediflow -p "$MF_PORT" -n "$N" -l "$LMSGS" -d "$SECS" \
    -w "$WINDOW" >"$TMP/mf.res" || { tail -5 "$TMP/mediflowd.log" >&2; die "fanout (mediflow) failed"; }
cat "$TMP/mf.res"
kill -0 "$MF_PID" 2>/dev/null || die "mediflowd died during the run"

RL=$(grep 'phase=latency' "$TMP/redis.res")
RT=$(grep 'phase=throughput' "$TMP/redis.res")
ML=$(grep 'phase=latency' "$TMP/mf.res")
MT=$(grep 'phase=throughput' "$TMP/mf.res")
echo
echo "fan-out to $N receivers        mediflowd      redis   mediflowd/redis"
printf "latency p50 (us)          %10s %10s   %s\n" "$(field "$ML" p50_us)" \
    "$(field "$RL" p50_us)" "$(ratio "$(field "$ML" p50_us)" "$(field "$RL" p50_us)")"
printf "latency p99 (us)          %10s %10s   %s\n" "$(field "$ML" p99_us)" \
    "$(field "$RL" p99_us)" "$(ratio "$(field "$ML" p99_us)" "$(field "$RL" p99_us)")"
printf "messages/s (window %s)     %10s %10s   %s\n" "$WINDOW" \
    "$(field "$MT" msgs_per_s)" "$(field "$RT" msgs_per_s)" \
    "$(ratio "$(field "$MT" msgs_per_s)" "$(field "$RT" msgs_per_s)")"
printf "deliveries/s              %10s %10s   %s\n" \
    "$(field "$MT" deliveries_per_s)" "$(field "$RT" deliveries_per_s)" \
    "$(ratio "$(field "$MT" deliveries_per_s)" "$(field "$RT" deliveries_per_s)")"
printf "loaded p99 (us)           %10s %10s   %s\n" "$(field "$MT" p99_us)" \
    "$(field "$RT" p99_us)" "$(ratio "$(field "$MT" p99_us)" "$(field "$RT" p99_us)")"
echo "all deliveries arrived: mediflowd $(field "$MT" complete), redis $(field "$RT" complete)"
