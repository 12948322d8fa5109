#!/bin/sh
# Runs each test executable given, prints its output, and closes with one
# summary line: "tests: N passed, N failed".
#
# MF_TEST_JOBS=N (make valgrind) runs N programs at a time, in the order
# given (put the longest first); each one's output is printed whole when all
# are done, in that order, with its wall time.
passed=0
failed=0
failed_names=""

# run_one T OUT: runs T, its output to OUT, its exit status and wall
# seconds to OUT.rc.
run_one() {
	start=$(date +%s)
	if "$1" >"$2" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	echo "$rc $(($(date +%s) - start))" >"$2.rc"
}

if [ "$1" = "--one" ]; then
	run_one "$2" "$3"
	exit 0
fi

jobs=${MF_TEST_JOBS:-1}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ "$jobs" -gt 1 ]; then
	i=0
	for t in "$@"; do
		[ -x "$t" ] || continue
		i=$((i + 1))
		printf '%s\0%s\0' "$t" "$dir/$i"
	done | xargs -0 -n 2 -P "$jobs" sh "$0" --one
fi

i=0
for t in "$@"; do
	[ -x "$t" ] || continue
	i=$((i + 1))
	out="$dir/$i"
	if [ "$jobs" -gt 1 ]; then
		rc=1 secs=?
		[ ! -e "$out.rc" ] || read -r rc secs <"$out.rc"
		echo "=== $t (${secs}s)"
	else
		echo "=== $t"
		run_one "$t" "$out"
		read -r rc secs <"$out.rc"
	fi
	[ ! -e "$out" ] || cat "$out"
	# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)..."
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed or failed outside cmocka's accounting.
		f=1
	fi
	# cmocka 1.1 exits 0 when a group teardown fails, and that is where
	# most files stop their server: its crash, or under valgrind or ASan
	# its memory errors and leaks, would pass unseen.
	if grep -q '^\[  FAILED  \] GROUP TEARDOWN' "$out"; then
		f=$((f + 1))
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failed_names="$failed_names $t"
done
[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
