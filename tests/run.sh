#!/bin/bash
# Runs every test of portredir and ends with one line "N passed, N failed"
# (", N skipped" when some were): the unit test binaries given as
# arguments, the malformed-file corpus, the hostile-input matrix, the
# integration scripts, and the packaging checks (man pages, units,
# install). Each speaks TAP; this script only counts. Exit status 1 on any
# failure.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0

# Reads TAP from a program's output and adds it to the counts; a program
# that exits non-zero without reporting a failure (a crash, a sanitizer
# abort) counts as one failure of its own.
run_tap() {
	local name=$1 output status planned=0 seen=0 bad=0 line
	shift
	output=$("$@" 2>&1)
	status=$?
	printf '%s\n' "$output" | sed "s|^|[$name] |"
	while IFS= read -r line; do
		case $line in
		1..*) planned=${line#1..}; planned=${planned%% *} ;;
		"ok "*"# SKIP"*|"ok "*"# skip"*|"not ok "*"# SKIP"*|"not ok "*"# skip"*)
			skipped=$((skipped + 1)); seen=$((seen + 1)) ;;
		"ok "*) passed=$((passed + 1)); seen=$((seen + 1)) ;;
		"not ok "*) failed=$((failed + 1)); bad=$((bad + 1)); seen=$((seen + 1)) ;;
		esac
	done <<< "$output"
	if [ "$seen" -lt "$planned" ]; then
		echo "[$name] not ok - only $seen of $planned tests reported (exit status $status)"
		failed=$((failed + 1))
	elif [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		echo "[$name] not ok - exited with status $status without reporting a failure"
		failed=$((failed + 1))
	fi
}

for unit in "$@"; do
	CMOCKA_MESSAGE_OUTPUT=TAP run_tap "$(basename "$unit")" "$unit"
done
run_tap corpus tests/run-corpus.sh
run_tap hostile bash tests/hostile/run.sh
for script in tests/integration/*.sh; do
	[ -e "$script" ] || continue
	run_tap "$(basename "$script" .sh)" bash "$script"
done
for script in tests/packaging/*.sh; do
	[ "$(basename "$script")" != lib.sh ] || continue
	run_tap "packaging-$(basename "$script" .sh)" bash "$script"
done

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
