#!/bin/sh
# run.sh — run every unit test binary given, print each one's cmocka
# summary, and a total line. Exits non-zero if any binary fails.
set -u
pass=0; fail=0; failed=""
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
for t in "$@"; do
	out=$(mktemp)
	if timeout 600 "$t" >"$out" 2>&1; then
		pass=$((pass + 1))
		grep -E '^\[  (PASSED|FAILED)  \]|^\[==========\] .* ran' "$out" | sed "s|^|$(basename "$t"): |"
	else
		fail=$((fail + 1)); failed="$failed $(basename "$t")"
		cat "$out"
	fi
	rm -f "$out"
done
echo "unit: $pass passed, $fail failed${failed:+ (failed:$failed)}"
[ "$fail" -eq 0 ]
