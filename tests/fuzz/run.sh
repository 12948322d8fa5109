#!/bin/sh
# Runs each libFuzzer target for SECONDS from its seed corpus
# (tests/fuzz/corpus/TARGET) and prints one line per target:
# "fuzz TARGET: N execs (N/s), N crashes". New inputs go to
# O/corpus/TARGET, crash inputs to O/crashes/. Exit 1 if any target crashed.
#   usage: run.sh O SECONDS TARGET...
set -u
o=$1
secs=$2
shift 2
here=$(dirname "$0")
mkdir -p "$o/crashes"
# Every lowercase string literal of the handlers (argument names, enum
# values, op names) as a msgpack str, so the fuzzer writes keys that exist.
dict="$o/fuzz_ops.dict"
grep -ohE '"[a-z][a-z0-9_.]{0,30}"' "$here"/../../server/op-*.c \
    "$here"/../../server/ops.c | sort -u | while read -r lit; do
	s=${lit#\"}
	s=${s%\"}
	printf '"\\x%02x%s"\n' $((0xa0 + ${#s})) "$s"
done >"$dict"
status=0
summary=""
for t in "$@"; do
	mkdir -p "$o/corpus/$t" "$here/corpus/$t"
	extra=""
	[ "$t" = fuzz_ops ] && extra="-dict=$dict"
	log="$o/fuzz-$t.log"
	echo "=== $t ($secs s)"
	# shellcheck disable=SC2086
	nice -n 10 "$o/tests/fuzz/$t" -max_total_time="$secs" \
	    -print_final_stats=1 -artifact_prefix="$o/crashes/$t-" \
	    -rss_limit_mb=4096 -timeout=25 $extra \
	    "$o/corpus/$t" "$here/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	crashes=$(ls "$o/crashes" | grep -c "^$t-" || true)
	line="fuzz $t: ${execs:-?} execs (${rate:-?}/s), $crashes crash files"
	if [ "$rc" -ne 0 ]; then
		status=1
		line="$line, FAILED (exit $rc; see $log)"
		grep -A 30 "^==[0-9]*==ERROR\|SUMMARY\|deadly signal" "$log" | head -n 40
	fi
	echo "$line"
	summary="$summary$line
"
done
printf '%s' "$summary"
exit $status
