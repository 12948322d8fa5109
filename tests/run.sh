#!/bin/sh
# Runs each test executable given, prints its output, and closes with one
# summary line: "tests: N passed, N failed".
passed=0
failed=0
failed_names=""
for t in "$@"; do
	[ -x "$t" ] || continue
	echo "=== $t"
	out=$(mktemp)
	if "$t" >"$out" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	cat "$out"
	# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)..."
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -n 1)
	[ -n "$p" ] || p=0
	[ -n "$f" ] || f=0
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Crashed or failed outside cmocka's accounting.
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failed_names="$failed_names $t"
	rm -f "$out"
done
[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
