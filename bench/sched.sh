#!/bin/sh
# bench/sched.sh -- the scheduling benchmarks and the cost of encryption,
# measured against Redis on this machine, in one run.
#
# usage: sh bench/sched.sh [BUILD_DIR]      (`make bench` runs it after run.sh)
#
# Fills a database with gendata (kept in BUILD_DIR/bench/data and reused while
# bench/gendata.c and data/migrations are unchanged), starts a throwaway
# mediflowd on a copy of it (rate limits raised, everything else default: WAL,
# db_synchronous_full = 1, group commit) and a throwaway redis-server, then,
# as receptionist@test.com:
#   a) redis-benchmark GET, 50 connections             (the yardstick)
#   b) appt.slots, random doctor and weekday 1-60 days ahead, 50 connections
#      (target p99 < 1 ms), and 1 connection (the service time); then health
#      (no work) at 50 connections: the p99 floor of the network path and loop;
#      then appt.slots open loop, BENCH_SLOTS_RATE requests a second over 50
#      connections, latency from when each was due (target p99 < 1 ms)
#   c) patients.search: name prefixes 80 %, phone prefixes 10 %, dates of
#      birth 10 %, 1 connection (the service time) and 50   (p99 reported)
#   d) appt.list of one doctor's day (random doctor, weekday within 60 days
#      either side), 50 connections      (target >= 0.6x redis GET req/s)
#   e) the same appt.list, plain and encrypted (-E), back to back, alternating
#      which goes first, BENCH_ENC_ROUNDS rounds    (target <= 15 % slower)
#   f) appt.book: each request a distinct slot (doctor and time from a
#      counter) in the empty calendars of gendata's free doctors, patients in
#      turn, 50 connections with one request each in flight: every booking
#      waits for its batch's fsync, so this is bound by latency.
#      Every booking sends appt.changed to every desk connection, 50 here;
#      f2) books the same way (other dates) from 5 connections with 10
#      requests in flight each, to show the write path without that fan-out;
#      f3) the sustained rate: 20 connections with 50 requests in flight
#      each, enough offered load to keep the one writer busy (other dates
#      again; 20 desks notified)               (target >= 20k bookings/s)
#      and, after g, its yardstick: bookfloor, the store alone doing what
#      a booking keeps (server stopped, same files, 1,000 to a commit), so
#      the ratio says what the server costs on top of the store
#   g) durability: SIGKILL the server, start it again on the same files, stop
#      it, and count the new appointments with sqlite3: they must equal the
#      bookings f), f2) and f3) saw acknowledged.
# Everything is torn down on exit, Ctrl-C included. Only 127.0.0.1 is used.
#
# Environment:
#   BENCH_SCALE=quick      quick: 100k patients, 50 doctors, 1M appointments
#                          full:  1M patients, 200 doctors, 10M appointments
#                          (generating full takes a few minutes, once)
#   BENCH_SCHED_SECONDS=5  measured seconds of phases b, c, d, f
#   BENCH_ENC_SECONDS=3    measured seconds of each run of phase e
#   BENCH_ENC_ROUNDS=3     rounds of phase e
#   BENCH_SLOTS_RATE=20000 requests a second of b's open-loop run
#   BENCH_BOOK_WARMUP=8    seconds f3 books before it measures: a server
#                          just started fills its 128 MiB page cache with
#                          the pages bookings write (a page fault and a
#                          malloc each), some 10 s at full scale; the
#                          sustained rate is the one after. f3's dates hold
#                          some 419,000 slots: (warm-up + measured) x rate
#                          above that wraps onto taken slots (conflicts)
#   BENCH_REGEN=0          1 regenerates the database even when one is kept
#   BENCH_STRICT=0         1 exits non-zero when a target is missed
#   BENCH_PHASES="a b c d e f f2 f3 g"   the phases to run (spaces or
#                          commas); e.g. "f f2 f3 g" for the write path
#                          alone. d's ratio needs a; g counts what f, f2 and
#                          f3 booked.
#   BENCH_REMINDERS=none   sms runs the server with SMS reminders configured,
#                          so each booking also writes its reminder rows
#                          (24 h and 1 h before: gendata's patients have a
#                          phone, no e-mail), as a clinic that sends them
#                          would. The Twilio endpoint is 127.0.0.1:9, never
#                          reached: the bookings are months ahead. bookfloor
#                          writes no reminders, so its ratio is then not
#                          like for like; the summary counts the rows.
#   BENCH_SYNC_FULL=1      0 runs the server with db_synchronous_full = 0
#                          (SQLite synchronous=NORMAL: a SIGKILL still loses
#                          nothing acknowledged, a power cut may)
set -u

O=${1:-build}
SCALE=${BENCH_SCALE:-quick}
SECS=${BENCH_SCHED_SECONDS:-5}
ENC_SECS=${BENCH_ENC_SECONDS:-3}
ENC_ROUNDS=${BENCH_ENC_ROUNDS:-3}
SLOTS_RATE=${BENCH_SLOTS_RATE:-20000}
BOOK_WARM=${BENCH_BOOK_WARMUP:-8}
REGEN=${BENCH_REGEN:-0}
STRICT=${BENCH_STRICT:-0}
PHASES=$(printf '%s\n' "${BENCH_PHASES:-a b c d e f f2 f3 g}" | tr ',' ' ')
SYNC_FULL=${BENCH_SYNC_FULL:-1}
REMINDERS=${BENCH_REMINDERS:-none}
HOST=127.0.0.1
DESK=receptionist@test.com
PASSWORD=password123

case $SCALE in
full)	NPAT=1000000 NDOC=200 NAPPT=10000000 ;;
quick)	NPAT=100000 NDOC=50 NAPPT=1000000 ;;
*)	echo "bench: BENCH_SCALE is quick or full, not '$SCALE'" >&2; exit 2 ;;
esac
for p in $PHASES; do
	case $p in
	a|b|c|d|e|f|f2|f3|g) ;;
	*)	echo "bench: BENCH_PHASES: no phase '$p' (a b c d e f f2 f3 g)" >&2; exit 2 ;;
	esac
done
case $REMINDERS in
none|sms) ;;
*)	echo "bench: BENCH_REMINDERS is none or sms, not '$REMINDERS'" >&2; exit 2 ;;
esac
case $SYNC_FULL in
0|1) ;;
*)	echo "bench: BENCH_SYNC_FULL is 0 or 1, not '$SYNC_FULL'" >&2; exit 2 ;;
esac
want() {	# phase: true when it is to run
	case " $PHASES " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# Doctors with empty calendars for the booking phase, ids NDOC+1..NDOC+NFREE.
NFREE=50

LOADGEN=$O/bench/loadgen
GENDATA=$O/bench/gendata
BOOKFLOOR=$O/bench/bookfloor
MEDIFLOWD=$O/mediflowd
for f in "$LOADGEN" "$GENDATA" "$BOOKFLOOR" "$MEDIFLOWD"; do
	[ -x "$f" ] || { echo "bench: $f not built (run 'make bench')" >&2; exit 1; }
done
for f in redis-server redis-benchmark sqlite3; do
	command -v $f >/dev/null 2>&1 || {
		echo "bench: $f not found (apt-get install redis-server redis-tools sqlite3)" >&2
		exit 1
	}
done

NCPU=$(nproc 2>/dev/null || echo 1)
LOAD_START=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo '?')

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mediflow-sched.XXXXXX") || exit 1
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

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)

us_per_req() {	# ticks requests
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
	    'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "-" }'
}

# The value of key=... on a loadgen RESULT line.
field() {	# line key
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# --- the data ---

DATA_CACHE=$O/bench/data
DB=$DATA_CACHE/sched-$SCALE-$NPAT-$NDOC-$NAPPT-$NFREE.db
mkdir -p "$DATA_CACHE" || die "cannot create $DATA_CACHE"
# A kept file is stale when the generator or any migration is newer: the
# server skips a migration numbered below the file's user_version.
STALE=
[ -s "$DB" ] && STALE=$(find bench/gendata.c data/migrations -newer "$DB" 2>/dev/null)
if [ "$REGEN" = 1 ] || [ ! -s "$DB" ] || [ -n "$STALE" ]; then
	echo "bench: generating the $SCALE data set: $NPAT patients, $NDOC doctors" \
	    "(+$NFREE free), $NAPPT appointments -> $DB"
	rm -f "$DB" "$DB.new" "$DB.new-wal" "$DB.new-shm"
	"$GENDATA" "$DB.new" --patients "$NPAT" --doctors "$NDOC" \
	    --appointments "$NAPPT" --free-doctors "$NFREE" 2>"$TMP/gendata.log" ||
	    { cat "$TMP/gendata.log" >&2; die "gendata failed"; }
	mv "$DB.new" "$DB" || die "cannot keep $DB"
	rm -f "$DB.new-wal" "$DB.new-shm"
else
	echo "bench: reusing the $SCALE data set $DB"
fi
mkdir -p "$TMP/data"
cp "$DB" "$TMP/data/mediflow.db" || die "cannot copy $DB"
# The copy's writeback (1.7 GB at full scale) would otherwise run during the
# first phases and be measured with them.
sync

# --- mediflowd ---

CONF=$TMP/mediflowd.conf
cat >"$CONF" <<EOF
# Limits raised so the bench measures the server, not the rate limiter;
# the store keeps its defaults (WAL, group commit; db_synchronous_full = 1
# unless BENCH_SYNC_FULL=0).
db_synchronous_full = $SYNC_FULL
rl_api_staff = 100000000/1s
rl_api = 100000000/1s
rl_auth = 100000000/1s
lockout_failures = 1000000
login_timeout = 1h
# The loadgen's dates and slots are UTC days.
tz = UTC
EOF
if [ "$REMINDERS" = sms ]; then
	cat >>"$CONF" <<EOF
# BENCH_REMINDERS=sms: every booking plans its SMS reminders.
twilio_account_sid = ACbench
twilio_auth_token = bench
twilio_from = +15550000000
twilio_base_url = http://$HOST:9
EOF
fi

MF_PORT=
start_server() {	# log-suffix
	: >"$TMP/mediflowd.out"
	"$MEDIFLOWD" --data-dir "$TMP/data" --listen "$HOST:0" --config "$CONF" \
	    >"$TMP/mediflowd.out" 2>"$TMP/mediflowd$1.log" &
	MF_PID=$!
	MF_PORT=
	i=0
	while [ $i -lt 600 ]; do
		MF_PORT=$(sed -n 's/^mediflowd listening on .* port \([0-9][0-9]*\)$/\1/p' \
		    "$TMP/mediflowd.out")
		[ -n "$MF_PORT" ] && return 0
		kill -0 "$MF_PID" 2>/dev/null ||
		    { cat "$TMP/mediflowd$1.log" >&2; MF_PID=; die "mediflowd exited"; }
		sleep 0.1
		i=$((i + 1))
	done
	die "mediflowd did not start"
}
start_server ""

# --- redis-server, on a free port: try a few, keep the one that binds ---

REDIS_PORT=
REDIS_PID=
for try in 1 2 3 4 5 6 7 8; do
	want a || break
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
want a && { [ -n "$REDIS_PORT" ] || die "redis-server would not start"; }

echo "bench: scale $SCALE ($NPAT patients, $NDOC doctors + $NFREE free," \
    "$NAPPT appointments); mediflowd pid $MF_PID on $HOST:$MF_PORT," \
    "redis-server pid ${REDIS_PID:--} on $HOST:${REDIS_PORT:--}, $NCPU CPUs," \
    "load $LOAD_START, phases $PHASES, db_synchronous_full=$SYNC_FULL," \
    "reminders $REMINDERS"

# --- the phases ---

# US: the server's CPU a request over the measured window, which loadgen
# reads from /proc at its edges (-C); warm-up, logins and the drain after
# it are not in it.
run_loadgen() {	# outfile loadgen-args...
	out=$1
	shift
	"$LOADGEN" -h "$HOST" -p "$MF_PORT" -e "$DESK" -P "$PASSWORD" \
	    -C "$MF_PID" "$@" >"$out" 2>"$out.err"
	rc=$?
	cat "$out"
	[ -s "$out.err" ] && sed 's/^/  /' "$out.err" >&2
	RESULT=$(grep '^RESULT' "$out")
	US=$(field "$RESULT" server_us)
	[ -n "$US" ] || US=-
	return $rc
}

if want a; then
	redis-benchmark -h "$HOST" -p "$REDIS_PORT" -c 50 -n 1000 -t set -q \
	    >/dev/null 2>&1	# a value to GET
	echo "bench: a) redis-benchmark GET, 50 connections, 200000 requests"
	t0=$(cpu_ticks "$REDIS_PID")
	redis-benchmark -h "$HOST" -p "$REDIS_PORT" -c 50 -n 200000 -t get -q --csv \
	    >"$TMP/redis-bench.out" 2>&1 || die "redis-benchmark failed"
	t1=$(cpu_ticks "$REDIS_PID")
	# "GET","rps","avg_ms","min_ms","p50_ms","p95_ms","p99_ms","max_ms"
	line=$(tr '\r' '\n' <"$TMP/redis-bench.out" | grep '^"GET"' | tail -n 1 |
	    tr -d '"' | tr ',' ' ')
	set -- $line
	[ $# -ge 8 ] || { cat "$TMP/redis-bench.out" >&2; die "cannot read redis-benchmark's output"; }
	REDIS_RPS=$2 REDIS_P50=$5 REDIS_P99=$7 REDIS_MAX=$8
	REDIS_US=$(us_per_req $((t1 - t0)) 200000)
	echo "GET: $REDIS_RPS requests per second, p50=$REDIS_P50 p99=$REDIS_P99 max=$REDIS_MAX msec"
fi

if want b; then
	SLOTS_ARGS="{\"doctor_id\": \"\$rand:1:$NDOC\", \"date\": \"\$date:1:60\"}"
	echo "bench: b) appt.slots $SLOTS_ARGS, 50 connections, ${SECS} s"
	run_loadgen "$TMP/slots.out" -c 50 -d "$SECS" -o appt.slots -a "$SLOTS_ARGS" \
	    -l appt.slots || die "loadgen appt.slots failed"
	SLOTS=$RESULT SLOTS_US=$US
	echo "bench: b) appt.slots, 1 connection, ${SECS} s"
	run_loadgen "$TMP/slots1.out" -c 1 -d "$SECS" -o appt.slots -a "$SLOTS_ARGS" \
	    -l appt.slots-c1 || die "loadgen appt.slots (1 connection) failed"
	SLOTS1=$RESULT SLOTS1_US=$US
	# The floor under any op at 50 connections: health does no work, so its
	# p99 is the network path's and the loop's (the yardstick for b's p99,
	# as redis's own p99 is for a).
	echo "bench: b) health (no work), 50 connections, ${SECS} s"
	run_loadgen "$TMP/health.out" -c 50 -d "$SECS" -o health -l health ||
	    die "loadgen health failed"
	HEALTH=$RESULT HEALTH_US=$US
	# Open loop: requests due at a fixed rate whatever the replies do,
	# latency from when each was due; what a desk sees under a heavy but
	# not saturating load (the closed loop above measures saturation).
	echo "bench: b) appt.slots, open loop at $SLOTS_RATE req/s over 50 connections, ${SECS} s"
	run_loadgen "$TMP/slots-open.out" -c 50 -r "$SLOTS_RATE" -d "$SECS" \
	    -o appt.slots -a "$SLOTS_ARGS" -l appt.slots-open ||
	    die "loadgen appt.slots (open loop) failed"
	SLOTS_OPEN=$RESULT SLOTS_OPEN_US=$US
fi

if want c; then
	# Name words and prefixes of gendata's names (broad and narrow), phone
	# prefixes (gendata's numbers are +1555 and a 7-digit patient id), dates.
	NAMES='smith|smi|garcia|gar ma|jo|john|johnson|lee|chen wei|kim|nguyen|o brien'
	NAMES="$NAMES|müller|al-sayed|okafor|ma|wil|sofia mensah|priya|zhang|jos|rob"
	SEARCH_NAME="{\"name\": \"\$pick:$NAMES\"}"
	SEARCH_PHONE='{"phone": "$pick:1555000|15550012|155500123|1555001234|1555|15550"}'
	SEARCH_DOB='{"date_of_birth": "$date:-32000:-2000"}'
	SEARCH_OPS=patients.search:8,patients.search:1,patients.search:1
	echo "bench: c) patients.search (name 8 : phone 1 : date of birth 1), 1 connection, ${SECS} s"
	run_loadgen "$TMP/search1.out" -c 1 -d "$SECS" -o "$SEARCH_OPS" \
	    -a "$SEARCH_NAME" -a "$SEARCH_PHONE" -a "$SEARCH_DOB" -l patients.search-c1 ||
	    die "loadgen patients.search (1 connection) failed"
	SEARCH1=$RESULT SEARCH1_US=$US
	echo "bench: c) patients.search, 50 connections, ${SECS} s"
	run_loadgen "$TMP/search.out" -c 50 -d "$SECS" -o "$SEARCH_OPS" \
	    -a "$SEARCH_NAME" -a "$SEARCH_PHONE" -a "$SEARCH_DOB" -l patients.search ||
	    die "loadgen patients.search failed"
	SEARCH=$RESULT SEARCH_US=$US
fi

LIST_ARGS="{\"doctor_id\": \"\$rand:1:$NDOC\", \"date\": \"\$date:-60:60\"}"
if want d; then
	echo "bench: d) appt.list $LIST_ARGS, 50 connections, ${SECS} s"
	run_loadgen "$TMP/list.out" -c 50 -d "$SECS" -o appt.list -a "$LIST_ARGS" \
	    -l appt.list || die "loadgen appt.list failed"
	LIST=$RESULT LIST_US=$US
fi

if want e; then
	echo "bench: e) appt.list plain and encrypted, 50 connections, ${ENC_SECS} s each," \
	    "$ENC_ROUNDS rounds"
	: >"$TMP/enc.rounds"
	r=1
	while [ $r -le "$ENC_ROUNDS" ]; do
		# Odd rounds run plain first, even rounds encrypted first.
		if [ $((r % 2)) = 1 ]; then order="plain enc"; else order="enc plain"; fi
		for mode in $order; do
			flag=
			[ "$mode" = enc ] && flag=-E
			run_loadgen "$TMP/enc-$r-$mode.out" -c 50 -d "$ENC_SECS" $flag \
			    -o appt.list -a "$LIST_ARGS" -l "appt.list-$mode-r$r" ||
			    die "loadgen appt.list ($mode) failed"
			eval "RPS_$mode=\$(field \"\$RESULT\" rps)"
			eval "US_$mode=\$US"
		done
		# ratio enc-rps plain-rps enc-us plain-us cpu-ratio
		echo "$RPS_enc $RPS_plain $US_enc $US_plain" | awk '{
			printf "%.4f %s %s %s %s %.4f\n", $1 / $2, $1, $2, $3, $4,
			    ($4 > 0 ? $3 / $4 : 0) }' >>"$TMP/enc.rounds"
		r=$((r + 1))
	done
	ENC_RATIO=$(median <"$TMP/enc.rounds")
	ENC_PLAIN_RPS=$(awk '{ print $3 }' "$TMP/enc.rounds" | median)
	ENC_ENC_RPS=$(awk '{ print $2 }' "$TMP/enc.rounds" | median)
	# Server CPU per request, encrypted / plain: less shaken by other work on
	# the machine than the rates are.
	ENC_CPU_RATIO=$(awk '{ print $6 }' "$TMP/enc.rounds" | median)
	ENC_ROUNDS_LIST=$(awk '{ printf "%s%.3f", (NR > 1 ? " " : ""), $1 }' "$TMP/enc.rounds")
fi

FIRST_FREE=$((NDOC + 1))
book_args() {	# first-day last-day: free doctors in turn, then the next slot
	printf '{"doctor_id": "$seqmod:%s:%s", "patient_id": "$seqmod:%s:1", ' \
	    "$NFREE" "$FIRST_FREE" "$NPAT"
	printf '"starts_at": "$slot:%s:%s:%s:0800-1200+1300-1700:20", "reason": "bench"}' \
	    "$NFREE" "$1" "$2"
}
BEFORE=$(sqlite3 "$TMP/data/mediflow.db" \
    "SELECT count(*) FROM appointments WHERE doctor_id >= $FIRST_FREE" 2>&1) ||
    die "sqlite3: $BEFORE"
BOOK= BOOK5= BOOK20=
# Each phase its own dates of the two years a booking may be ahead, 1,200
# slots a weekday (50 free doctors, 24 each), before its counter wraps onto
# taken ones: f's 140 days some 120,000 and f2's 100 some 85,000, twice
# what they book in a run (f books 10,000 a second on a fast day); f3's 489
# days some 419,000, 16 s at 26,000 a second, warm-up included.
if want f; then
	BOOK_ARGS=$(book_args 1 140)
	echo "bench: f) appt.book $BOOK_ARGS, 50 connections, ${SECS} s"
	run_loadgen "$TMP/book.out" -c 50 -d "$SECS" -o appt.book -a "$BOOK_ARGS" \
	    -l appt.book || die "loadgen appt.book failed"
	BOOK=$RESULT BOOK_US=$US
fi
if want f2; then
	BOOK_ARGS=$(book_args 141 240)
	echo "bench: f2) appt.book $BOOK_ARGS, 5 connections x 10 in flight, ${SECS} s"
	run_loadgen "$TMP/book5.out" -c 5 -q 10 -d "$SECS" -o appt.book -a "$BOOK_ARGS" \
	    -l appt.book-c5q10 || die "loadgen appt.book (5 connections) failed"
	BOOK5=$RESULT BOOK5_US=$US
fi
if want f3; then
	BOOK_ARGS=$(book_args 241 729)
	echo "bench: f3) appt.book $BOOK_ARGS, 20 connections x 50 in flight," \
	    "${BOOK_WARM} s warm-up, ${SECS} s"
	run_loadgen "$TMP/book20.out" -c 20 -q 50 -w "$BOOK_WARM" -d "$SECS" \
	    -o appt.book -a "$BOOK_ARGS" -l appt.book-c20q50 ||
	    die "loadgen appt.book (20 connections) failed"
	BOOK20=$RESULT BOOK20_US=$US
fi
ACKED=0 UNANSWERED=0
for l in "$BOOK" "$BOOK5" "$BOOK20"; do
	[ -n "$l" ] || continue
	ACKED=$((ACKED + $(field "$l" ok_total)))
	UNANSWERED=$((UNANSWERED + $(field "$l" unanswered)))
done

if want g; then
	echo "bench: g) SIGKILL mediflowd (pid $MF_PID), start it again on the same data," \
	    "stop it, count the new appointments"
	kill -KILL "$MF_PID"
	wait "$MF_PID" 2>/dev/null
	MF_PID=
	start_server "-restart"
	kill "$MF_PID"
	wait "$MF_PID" 2>/dev/null
	MF_PID=
	AFTER=$(sqlite3 "$TMP/data/mediflow.db" \
	    "SELECT count(*) FROM appointments WHERE doctor_id >= $FIRST_FREE" 2>&1) ||
	    die "sqlite3: $AFTER"
	NEW_ROWS=$((AFTER - BEFORE))
	if [ "$UNANSWERED" -eq 0 ]; then
		[ "$NEW_ROWS" -eq "$ACKED" ] && V_DURABLE=PASS || V_DURABLE=MISS
	else
		# Requests whose replies never came may or may not have committed.
		[ "$NEW_ROWS" -ge "$ACKED" ] && [ "$NEW_ROWS" -le $((ACKED + UNANSWERED)) ] &&
		    V_DURABLE=PASS || V_DURABLE=MISS
	fi
fi

# The store's floor, f3's yardstick in this run: bookfloor books on the same
# files with the server stopped, 1,000 bookings to a commit, each the store
# work of one appt.book (overlap checks, the row, its history, the audit row)
# through the server's own functions, nothing else.
FLOOR=
if want f3; then
	if [ -n "$MF_PID" ]; then
		kill "$MF_PID"
		wait "$MF_PID" 2>/dev/null
		MF_PID=
	fi
	# What the bookings wrote besides themselves: reminder rows (none
	# unless BENCH_REMINDERS=sms), over every acknowledged booking.
	REMINDER_ROWS=$(sqlite3 "$TMP/data/mediflow.db" \
	    "SELECT count(*) FROM reminders" 2>&1) || die "sqlite3: $REMINDER_ROWS"
	# From a month after the data set's last appointment: no overlaps.
	FLOOR_DAY=$(sqlite3 "$TMP/data/mediflow.db" "SELECT max(starts_at) / 86400 -
	    CAST(strftime('%s', 'now') AS INTEGER) / 86400 + 30 FROM appointments" 2>&1) ||
	    die "sqlite3: $FLOOR_DAY"
	echo "bench: f3) the store's floor: bookfloor, 1,000 bookings a commit," \
	    "from day $FLOOR_DAY, ${SECS} s"
	FLOOR=$("$BOOKFLOOR" "$TMP/data/mediflow.db" --doctors "$FIRST_FREE:$NFREE" \
	    --patients "$NPAT" --from-day "$FLOOR_DAY" --seconds "$SECS" --batch 1000 \
	    --sync-full "$SYNC_FULL" 2>"$TMP/bookfloor.log" | grep '^RESULT') ||
	    { cat "$TMP/bookfloor.log" >&2; die "bookfloor failed"; }
	echo "$FLOOR"
fi

# --- the summary: the phases that ran ---

row() {	# name line server-us
	printf '%-30s %9s %9s %8s %8s %8s %8s %7s %8s\n' "$1" "$(field "$2" rps)" \
	    "$(field "$2" ok_rps)" "$(field "$2" p50_ms)" "$(field "$2" p99_ms)" \
	    "$(field "$2" p999_ms)" "$(field "$2" max_ms)" "$(field "$2" errors)" "$3"
}
verdict() {	# awk-condition: PASS or MISS
	awk "BEGIN { print (($1) ? \"PASS\" : \"MISS\") }"
}
book_line() {	# label result-line note
	awk -v b="$(field "$2" ok_rps)" -v ba="$(field "$2" rps)" \
	    -v c="$(field "$2" err_conflict)" -v e="$(field "$2" errors)" \
	    -v l="$1" -v n="$3" 'BEGIN {
		printf "%s %.0f bookings/s, %.0f attempts/s, %d conflicts, %d other errors   %s\n",
		    l, b, ba, c, e - c, n }'
}

LOAD_END=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo '?')
ERRORS=0
SUMMARY="scale=$SCALE phases=$(printf '%s' "$PHASES" | tr ' ' ',') sync_full=$SYNC_FULL"
SUMMARY="$SUMMARY reminders=$REMINDERS"
VERDICTS=

echo
echo "=== MediFlow scheduling bench ($(date -u +%Y-%m-%dT%H:%M:%SZ), scale $SCALE:" \
    "$NPAT patients, $NDOC doctors, $NAPPT appointments; $NCPU CPUs)"
echo "load average before the run $LOAD_START, after $LOAD_END;" \
    "server: WAL, db_synchronous_full=$SYNC_FULL, group commit, reminders $REMINDERS"
printf '%-30s %9s %9s %8s %8s %8s %8s %7s %8s\n' phase "req/s" "ok/s" "p50 ms" \
    "p99 ms" "p99.9 ms" "max ms" errors "srv us/req"
want a && printf '%-30s %9s %9s %8s %8s %8s %8s %7s %8s\n' "a) redis GET (c=50)" \
    "$REDIS_RPS" - "$REDIS_P50" "$REDIS_P99" - "$REDIS_MAX" - "$REDIS_US"
want b && row "b) appt.slots (c=50)" "$SLOTS" "$SLOTS_US"
want b && row "b) appt.slots (c=1)" "$SLOTS1" "$SLOTS1_US"
want b && row "b) health, no work (c=50)" "$HEALTH" "$HEALTH_US"
want b && row "b) appt.slots open $SLOTS_RATE/s" "$SLOTS_OPEN" "$SLOTS_OPEN_US"
want c && row "c) patients.search (c=1)" "$SEARCH1" "$SEARCH1_US"
want c && row "c) patients.search (c=50)" "$SEARCH" "$SEARCH_US"
want d && row "d) appt.list day (c=50)" "$LIST" "$LIST_US"
if want e; then
	r=1
	while [ $r -le "$ENC_ROUNDS" ]; do
		for mode in plain enc; do
			f=$TMP/enc-$r-$mode.out
			row "e) appt.list $mode r$r (c=50)" "$(grep '^RESULT' "$f")" -
			ERRORS=$((ERRORS + $(field "$(grep '^RESULT' "$f")" errors)))
		done
		r=$((r + 1))
	done
fi
want f && row "f) appt.book (c=50)" "$BOOK" "$BOOK_US"
want f2 && row "f2) appt.book (c=5, 10 each)" "$BOOK5" "$BOOK5_US"
want f3 && row "f3) appt.book (c=20, 50 each)" "$BOOK20" "$BOOK20_US"
echo
if want b; then
	SLOTS_P50=$(field "$SLOTS" p50_ms) SLOTS_P99=$(field "$SLOTS" p99_ms)
	SLOTS1_P50=$(field "$SLOTS1" p50_ms) SLOTS1_P99=$(field "$SLOTS1" p99_ms)
	V_SLOTS=$(verdict "$SLOTS_P99 < 1") V_SLOTS1=$(verdict "$SLOTS1_P99 < 1")
	printf 'b) appt.slots c=50    p50 %.3f ms, p99 = %.3f ms   target < 1 ms      %s\n' \
	    "$SLOTS_P50" "$SLOTS_P99" "$V_SLOTS"
	printf 'b) appt.slots c=1     p50 %.3f ms, p99 = %.3f ms   target < 1 ms      %s\n' \
	    "$SLOTS1_P50" "$SLOTS1_P99" "$V_SLOTS1"
	printf 'b) health c=50        p50 %.3f ms, p99 = %.3f ms   (the floor at 50 connections)\n' \
	    "$(field "$HEALTH" p50_ms)" "$(field "$HEALTH" p99_ms)"
	SLOTS_OPEN_P99=$(field "$SLOTS_OPEN" p99_ms)
	V_SLOTS_OPEN=$(verdict "$SLOTS_OPEN_P99 < 1")
	printf 'b) appt.slots open loop, %s req/s over 50 conns: p50 %.3f ms, p99 = %.3f ms   target < 1 ms   %s\n' \
	    "$SLOTS_RATE" "$(field "$SLOTS_OPEN" p50_ms)" "$SLOTS_OPEN_P99" "$V_SLOTS_OPEN"
	ERRORS=$((ERRORS + $(field "$SLOTS" errors) + $(field "$SLOTS1" errors) +
	    $(field "$HEALTH" errors) + $(field "$SLOTS_OPEN" errors)))
	SUMMARY="$SUMMARY slots_p50_ms=$SLOTS_P50 slots_p99_ms=$SLOTS_P99"
	SUMMARY="$SUMMARY slots_c1_p50_ms=$SLOTS1_P50 slots_c1_p99_ms=$SLOTS1_P99"
	SUMMARY="$SUMMARY health_p99_ms=$(field "$HEALTH" p99_ms)"
	SUMMARY="$SUMMARY slots_open_rate=$SLOTS_RATE slots_open_p99_ms=$SLOTS_OPEN_P99"
	VERDICTS="$VERDICTS slots=$V_SLOTS slots_c1=$V_SLOTS1 slots_open=$V_SLOTS_OPEN"
fi
if want c; then
	SEARCH_P99=$(field "$SEARCH" p99_ms)
	SEARCH1_P50=$(field "$SEARCH1" p50_ms) SEARCH1_P99=$(field "$SEARCH1" p99_ms)
	# A request is measured when it was sent after the warm-up and
	# answered before the end: with 50 waiting their turn, a slow op may
	# have none.
	SEARCH_NOTE=
	[ "$(field "$SEARCH" requests)" -eq 0 ] &&
	    SEARCH_NOTE="   (no request sent after the warm-up was answered within ${SECS} s)"
	printf 'c) patients.search c=1  p50 %.3f ms, p99 = %.3f ms   (reported)\n' \
	    "$SEARCH1_P50" "$SEARCH1_P99"
	printf 'c) patients.search c=50 p99 = %.3f ms%s\n' "$SEARCH_P99" "$SEARCH_NOTE"
	ERRORS=$((ERRORS + $(field "$SEARCH" errors) + $(field "$SEARCH1" errors)))
	SUMMARY="$SUMMARY search_c1_p50_ms=$SEARCH1_P50 search_c1_p99_ms=$SEARCH1_P99"
	SUMMARY="$SUMMARY search_p99_ms=$SEARCH_P99"
fi
if want d; then
	LIST_RPS=$(field "$LIST" rps)
	ERRORS=$((ERRORS + $(field "$LIST" errors)))
	SUMMARY="$SUMMARY list_rps=$LIST_RPS"
	if want a; then
		LIST_RATIO=$(awk -v l="$LIST_RPS" -v r="$REDIS_RPS" \
		    'BEGIN { printf "%.3f", l / r }')
		V_LIST=$(verdict "$LIST_RATIO >= 0.6")
		printf 'd) appt.list / redis GET    = %.2fx                target >= 0.60x    %s\n' \
		    "$LIST_RATIO" "$V_LIST"
		SUMMARY="$SUMMARY redis_rps=$REDIS_RPS list_ratio=$LIST_RATIO"
		VERDICTS="$VERDICTS list=$V_LIST"
	else
		echo "d) appt.list $LIST_RPS req/s   (no ratio: phase a, redis GET, did not run)"
	fi
elif want a; then
	SUMMARY="$SUMMARY redis_rps=$REDIS_RPS"
fi
if want e; then
	V_ENC=$(verdict "$ENC_RATIO >= 0.85")
	awk -v e="$ENC_RATIO" -v er="$ENC_ROUNDS_LIST" -v ec="$ENC_CPU_RATIO" \
	    -v v="$V_ENC" 'BEGIN {
		printf "e) appt.list encrypted / plain = %.3f (median of %s), %.1f %% slower   target <= 15 %%   %s\n", e, er, (1 - e) * 100, v
		printf "   server CPU per appt.list, encrypted / plain = %.3f (median)\n", ec }'
	SUMMARY="$SUMMARY enc_ratio=$ENC_RATIO enc_cpu_ratio=$ENC_CPU_RATIO"
	VERDICTS="$VERDICTS enc=$V_ENC"
fi
if want f; then
	BOOK_OK_RPS=$(field "$BOOK" ok_rps)
	book_line "f) appt.book c=50    " "$BOOK" "(one request a desk in flight: bound by the fsync's latency)"
	BOOK_CONFLICTS=$(field "$BOOK" err_conflict)
	SUMMARY="$SUMMARY book_ok_rps=$BOOK_OK_RPS book_rps=$(field "$BOOK" rps)"
	SUMMARY="$SUMMARY book_conflicts=${BOOK_CONFLICTS:-0}"
	SUMMARY="$SUMMARY book_other_errors=$(( $(field "$BOOK" errors) - ${BOOK_CONFLICTS:-0} ))"
fi
if want f2; then
	book_line "f2) appt.book c=5x10 " "$BOOK5" "(fewer desk screens to notify)"
	BOOK5_CONFLICTS=$(field "$BOOK5" err_conflict)
	SUMMARY="$SUMMARY book_c5_ok_rps=$(field "$BOOK5" ok_rps)"
	SUMMARY="$SUMMARY book_c5_conflicts=${BOOK5_CONFLICTS:-0}"
	SUMMARY="$SUMMARY book_c5_other_errors=$(( $(field "$BOOK5" errors) - ${BOOK5_CONFLICTS:-0} ))"
fi
if want f3; then
	BOOK20_OK_RPS=$(field "$BOOK20" ok_rps)
	V_BOOK=$(verdict "$BOOK20_OK_RPS >= 20000")
	book_line "f3) appt.book c=20x50" "$BOOK20" "target >= 20000/s   $V_BOOK"
	awk -v b="$BOOK20_OK_RPS" -v f="$(field "$FLOOR" rps)" \
	    -v fu="$(field "$FLOOR" cpu_us)" -v su="$BOOK20_US" 'BEGIN {
		printf "f3) the store alone (bookfloor, 1,000 a commit, same fsync): %.0f bookings/s, %.1f us CPU each;\n", f, fu
		printf "    appt.book c=20x50 = %.2fx the store'"'"'s floor (server %s us CPU a booking)\n", b / f, su }'
	# Every booking is pushed to each of the 20 desks (appt.changed): the
	# figure is a booking with its fan-out, which this shows happened.
	BOOK20_EVENTS=$(awk -v e="$(field "$BOOK20" events)" \
	    -v n="$(field "$BOOK20" ok_total)" \
	    'BEGIN { printf "%.2f", (n > 0 ? e / n : 0) }')
	echo "    appt.changed events the desks got: $BOOK20_EVENTS a booking (warm-up included)"
	REMINDERS_PER_BOOKING=$(awk -v r="$REMINDER_ROWS" -v n="$ACKED" \
	    'BEGIN { printf "%.2f", (n > 0 ? r / n : 0) }')
	echo "    reminder rows written: $REMINDERS_PER_BOOKING a booking (reminders $REMINDERS;" \
	    "bookfloor writes none)"
	SUMMARY="$SUMMARY reminder_rows_per_booking=$REMINDERS_PER_BOOKING"
	SUMMARY="$SUMMARY book_c20_events_per_booking=$BOOK20_EVENTS"
	SUMMARY="$SUMMARY floor_rps=$(field "$FLOOR" rps) floor_cpu_us=$(field "$FLOOR" cpu_us)"
	SUMMARY="$SUMMARY floor_conflicts=$(field "$FLOOR" conflicts)"
	BOOK20_CONFLICTS=$(field "$BOOK20" err_conflict)
	SUMMARY="$SUMMARY book_c20_ok_rps=$BOOK20_OK_RPS"
	SUMMARY="$SUMMARY book_c20_p50_ms=$(field "$BOOK20" p50_ms) book_c20_p99_ms=$(field "$BOOK20" p99_ms)"
	SUMMARY="$SUMMARY book_c20_conflicts=${BOOK20_CONFLICTS:-0}"
	SUMMARY="$SUMMARY book_c20_other_errors=$(( $(field "$BOOK20" errors) - ${BOOK20_CONFLICTS:-0} ))"
	VERDICTS="$VERDICTS book=$V_BOOK"
fi
if want g; then
	echo "g) durability after SIGKILL: $ACKED bookings acknowledged, $NEW_ROWS new rows" \
	    "after the restart, $UNANSWERED unanswered   $V_DURABLE"
	SUMMARY="$SUMMARY acked=$ACKED new_rows=$NEW_ROWS"
	VERDICTS="$VERDICTS durable=$V_DURABLE"
fi
echo "RESULT-SUMMARY-SCHED $SUMMARY errors=$ERRORS$VERDICTS"
echo "(srv us/req: server CPU time per request, from /proc; redis percentiles are" \
    "redis-benchmark's own; ok/s: successful replies per second)"
[ "$ERRORS" -eq 0 ] || echo "bench: some requests failed; see the errors column" >&2

if [ "$STRICT" = 1 ]; then
	for v in $VERDICTS; do
		case $v in
		*=PASS) ;;
		*=MISS) case $v in slots_c1=*) ;; *) exit 1 ;; esac ;;
		esac
	done
	[ "$ERRORS" -eq 0 ] || exit 1
fi
exit 0
