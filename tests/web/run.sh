#!/bin/sh
# tests/web/run.sh -- the patient web page in Debian's headless chromium,
# driven by playwright-core (tests/web/test.js) against a real mediflowd on
# loopback ports. Installs playwright-core from npm into tests/web/node_modules
# on first use (the version package-lock.json pins); chromium, node and npm
# come from `make deps`. Prints cmocka's summary lines so tests/run.sh counts
# the cases; anything missing is a failure, never a silent pass. $O is the
# build directory; screenshots go to $O/test-output/web-*.png. WEB_ONLY=part
# runs only the cases whose names hold it (working on one view).
set -u

O=${O:-build}
DIR=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

fail() {
	echo "web: $*"
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] web set-up"
	exit 1
}

[ -x "$O/mediflowd" ] && [ -x "$O/mediflow" ] || fail "build first (make all); no $O/mediflowd"
command -v node >/dev/null 2>&1 || fail "node is not installed (make deps installs nodejs and npm)"
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is not installed (make deps installs chromium)"
if [ ! -f "$DIR/node_modules/playwright-core/package.json" ]; then
	command -v npm >/dev/null 2>&1 || fail "npm is not installed (make deps installs it)"
	echo "web: installing playwright-core into tests/web/node_modules"
	(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error) ||
	    fail "npm ci in tests/web failed"
fi
O=$O CHROMIUM=$CHROMIUM exec node "$DIR/test.js"
