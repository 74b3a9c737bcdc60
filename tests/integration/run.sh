#!/bin/sh
# run.sh — run every tests/integration/test_*.py with python3 (at most 600 s
# each, output shown as it comes), then print the summary
#   integration: N passed, N failed
# which adds up the "N passed, N failed" lines the files print
# (cluster.run_tests). A file that exits non-zero without reporting a
# failed test (crash, timeout, error at start or in cleanup) counts as one
# more failure. Exits non-zero on any failure. Works as root (the CI) and
# as an ordinary user (the privilege tests then print SKIP).
set -u
cd "$(dirname "$0")/../.." || exit 1
pass=0
fail=0
failed=""
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in tests/integration/test_*.py; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .py)
	echo "== $name"
	{
		timeout -k 15 600 python3 -u "$t" 2>&1
		echo $? >"$tmp/rc"
	} | tee "$tmp/out"
	rc=$(cat "$tmp/rc")
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -n 1)
	p=0
	f=0
	if [ -n "$summary" ]; then
		p=${summary%% passed*}
		f=${summary#* passed, }
		f=${f%% failed*}
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "$name: exited with status $rc"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		failed="$failed $name"
	fi
done
echo "integration: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ "$fail" -eq 0 ]
