#!/bin/bash
# Runs every libFuzzer target built in DIRECTORY (make fuzz) for SECONDS
# seconds each, the targets side by side, and fails on any crash, leak,
# timeout or sanitizer report. Each grows its corpus in DIRECTORY/corpus/
# NAME from the seeds (the parser's: the mapping-file corpus of tests/; the
# decoder's: recorded dumps in tests/fuzz/seeds/decoder); a failing input
# is kept as DIRECTORY/artifacts/NAME-crash-... with the sanitizer's report
# in DIRECTORY/NAME.log. Prints one line per target and writes them to
# DIRECTORY/summary.txt.
set -u
cd "$(dirname "$0")/../.."
directory=${1:?usage: run.sh DIRECTORY [SECONDS]}
seconds=${2:-60}
status=0

seeds() {
	case $1 in
	fuzz_config) echo tests/malformed tests/valid rules ;;
	fuzz_decoder) echo tests/fuzz/seeds/decoder ;;
	esac
}

max_length() {
	case $1 in
	fuzz_config) echo 16384 ;;
	*) echo 65536 ;;
	esac
}

targets=()
for target in "$directory"/fuzz_*; do
	[ -x "$target" ] || continue
	targets+=("$(basename "$target")")
done
if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz: no targets in $directory" >&2
	exit 1
fi

mkdir -p "$directory/artifacts"
# One leak of libnftnl's own on malformed input is suppressed (the file
# says which and why); every other leak still fails the run.
# The full stack of each allocation (libnftnl is built without frame
# pointers): the suppression matches a function inside the library.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
pids=()
for name in "${targets[@]}"; do
	dictionary=()
	[ -e "tests/fuzz/$name.dict" ] && dictionary=("-dict=tests/fuzz/$name.dict")
	mkdir -p "$directory/corpus/$name"
	# shellcheck disable=SC2046
	"$directory/$name" -max_total_time="$seconds" -timeout=10 -max_len="$(max_length "$name")" \
		-print_final_stats=1 -artifact_prefix="$directory/artifacts/$name-" \
		"${dictionary[@]+"${dictionary[@]}"}" "$directory/corpus/$name" $(seeds "$name") \
		>"$directory/$name.log" 2>&1 &
	pids+=($!)
done

: >"$directory/summary.txt"
for i in "${!targets[@]}"; do
	name=${targets[$i]}
	log=$directory/$name.log
	wait "${pids[$i]}"
	result=$?
	executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	time=$(sed -n 's/^stat::.*//; s/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' "$log" | tail -n 1)
	corpus=$(find "$directory/corpus/$name" -type f | wc -l)
	if [ "$result" -eq 0 ] && ! grep -Eq '^(==[0-9]+==ERROR|SUMMARY: |.*runtime error:)' "$log"; then
		line="$name: ${time:-$seconds} s, ${executions:-?} executions, 0 crashes, corpus of $corpus inputs"
	else
		line="$name: FAILED (exit status $result); see $log and $directory/artifacts/"
		grep -E -m 5 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | sed 's/^/  /' >&2
		status=1
	fi
	echo "$line" | tee -a "$directory/summary.txt"
done
exit "$status"
