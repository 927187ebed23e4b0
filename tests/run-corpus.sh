#!/bin/bash
# The mapping-file corpus, as TAP: every tests/malformed/NAME (a .conf file
# or a .d directory) must make `check` exit 2 with NAME.expected as its
# stderr, exactly: each diagnostic's line (FILE:LINE:COL: error: ...), the
# source line and the caret under it, and the line that sums them up;
# every tests/valid/NAME must exit 0 and print NAME.expected, and that
# output must itself normalize to the same text.
set -u
cd "$(dirname "$0")/.."
portredir=${PORTREDIR:-build/portredir}
case $portredir in /*) ;; *) portredir=$PWD/$portredir ;; esac
# As root, portredir refuses files that another user owns or may write
# (portredir.conf(5), OWNERSHIP): a checkout of another user's, or one made
# with umask 002, is read from a copy of root's, under the same names.
if [ "$(id -u)" -eq 0 ]; then
	copy=$(mktemp -d /tmp/portredir-corpus.XXXXXX)
	trap 'rm -rf "$copy"' EXIT
	mkdir "$copy/tests"
	cp -R tests/malformed tests/valid "$copy/tests/"
	chown -R 0:0 "$copy/tests"
	chmod -R go-w "$copy/tests"
	cd "$copy"
fi
count=0
results=()

report() {
	count=$((count + 1))
	results+=("$1 $count - $2")
}

for expected in tests/malformed/*.expected; do
	input=${expected%.expected}
	errors=$("$portredir" -f "$input" check 2>&1 >/dev/null)
	status=$?
	if [ "$status" -eq 2 ] && [ "$errors" = "$(cat "$expected")" ]; then
		report ok "malformed $(basename "$input")"
	else
		report "not ok" "malformed $(basename "$input"): exit $status, got: $(head -n 1 <<<"$errors")"
		diff <(cat "$expected") <(printf '%s\n' "$errors") | sed 's/^/# /' >&2
	fi
done

for expected in tests/valid/*.expected; do
	input=${expected%.expected}
	output=$("$portredir" -q -f "$input" check)
	status=$?
	if [ "$status" -eq 0 ] && [ "$output" = "$(cat "$expected")" ]; then
		report ok "valid $(basename "$input")"
	else
		report "not ok" "valid $(basename "$input"): exit $status, got: $output"
	fi
	normalized=$(mktemp)
	printf '%s\n' "$output" > "$normalized"
	again=$("$portredir" -q -f "$normalized" check)
	if [ "$?" -eq 0 ] && [ "$again" = "$output" ]; then
		report ok "valid $(basename "$input"): normalized form normalizes to itself"
	else
		report "not ok" "valid $(basename "$input"): normalized form changed: $again"
	fi
	rm -f "$normalized"
done

echo "1..$count"
for line in "${results[@]}"; do
	echo "$line"
done
