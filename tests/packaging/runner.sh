#!/bin/bash
# The test runner (tests/run.sh, tests/tap.sh): each result printed as it
# arrives, numbered across suites and named by its suite; a failure's
# diagnostics after it and nothing else; a crash or a missing plan counted
# as a failure; the last line "N passed, N failed[, N skipped]".
. "$(dirname "$0")/lib.sh"

# runner SCRIPT: what tests/tap.sh prints for the suites run_suite calls
# in SCRIPT, and its exit status after the summary, in OUTPUT and STATUS.
runner() {
	OUTPUT=$(CHECK_LOG_DIR=$SCRATCH/logs bash -c '. tests/tap.sh; mkdir -p "$LOG_DIR"; '"$1"'; summary' 2>&1)
	STATUS=$?
}

expect_output() {
	[ "$OUTPUT" = "$1" ] && return 0
	diag "expected:" "$1" "got:" "$OUTPUT"
	return 1
}

# A suite with noise on stdout and stderr around its results.
cat >"$SCRATCH/noisy.sh" <<'EOF'
echo "1..4"
echo "noise on stdout"
echo "# a comment before a passing test" >&2
echo "ok 1 - first"
echo "# why the second failed" >&2
echo "not ok 2 - second"
echo "#   expected: a"
echo "ok 3 - third # SKIP needs root"
echo "Error: Peer netns reference is invalid."
echo "ok 4 - fourth"
EOF

results_numbered_across_suites_with_failure_diagnostics_only() {
	runner "run_suite one bash $SCRATCH/noisy.sh; run_suite two bash -c 'echo ok 1 - alone; echo 1..1'"
	expect_output "ok 1 - one: first
not ok 2 - one: second
#   why the second failed
#     expected: a
ok 3 - one: third # SKIP needs root
ok 4 - one: fourth
# one: 1 failed; its whole output is in $SCRATCH/logs/one.log
ok 5 - two: alone
3 passed, 1 failed, 1 skipped" && [ "$STATUS" -eq 1 ]
}

whole_output_of_a_suite_is_in_its_log() {
	runner "run_suite one bash $SCRATCH/noisy.sh"
	[ "$(cat "$SCRATCH/logs/one.log")" = "$(bash "$SCRATCH/noisy.sh" 2>&1)" ] && return 0
	diag "the log is not the suite's whole output:" "$(cat "$SCRATCH/logs/one.log")"
	return 1
}

summary_without_skips_or_failures() {
	runner "run_suite one bash -c 'echo 1..2; echo ok 1 - a; echo ok 2 - b'"
	expect_output "ok 1 - one: a
ok 2 - one: b
2 passed, 0 failed" && [ "$STATUS" -eq 0 ]
}

a_crash_after_some_results_is_a_failure() {
	runner "run_suite one bash -c 'echo 1..3; echo ok 1 - a; exit 134'"
	expect_output "ok 1 - one: a
not ok 2 - one: only 1 of 3 tests reported (exit status 134); see $SCRATCH/logs/one.log
1 passed, 1 failed" && [ "$STATUS" -eq 1 ]
}

a_bad_exit_status_without_a_failure_is_a_failure() {
	runner "run_suite one bash -c 'echo 1..1; echo ok 1 - a; exit 1'"
	expect_output "ok 1 - one: a
not ok 2 - one: exited with status 1 without reporting a failure; see $SCRATCH/logs/one.log
1 passed, 1 failed"
}

a_suite_without_a_plan_is_a_failure() {
	runner "run_suite one true"
	expect_output "not ok 1 - one: no plan, 0 tests reported (exit status 0); see $SCRATCH/logs/one.log
0 passed, 1 failed"
}

# The suite's second result waits until the first is in the runner's
# output: it is, only if the runner prints results as they come.
a_result_is_printed_before_its_suite_ends() {
	local out=$SCRATCH/streamed
	: >"$out"
	CHECK_LOG_DIR=$SCRATCH/logs bash -c '. tests/tap.sh; mkdir -p "$LOG_DIR"
		run_suite one bash -c "echo 1..2; echo ok 1 - first
			for i in \$(seq 1 100); do grep -q \"^ok 1 - one: first\$\" \"$1\" && break; sleep 0.05; done
			grep -q \"^ok 1 - one: first\$\" \"$1\" && echo ok 2 - saw the first || echo not ok 2 - never saw it"' \
		streamed "$out" >"$out" 2>&1
	[ "$(sed -n 2p "$out")" = "ok 2 - one: saw the first" ] && return 0
	diag "runner output:" "$(cat "$out")"
	return 1
}

# lib.sh files are sourced by the suites, not suites themselves.
every_script_but_the_libraries_is_a_suite() {
	local listed expected
	listed=$(tests/run.sh --list build/tests/test_a | cut -d: -f1)
	expected=$(printf '%s\n' test_a corpus hostile
		for script in tests/integration/*.sh; do
			[ "$(basename "$script")" = lib.sh ] || basename "$script" .sh
		done
		for script in tests/packaging/*.sh; do
			[ "$(basename "$script")" = lib.sh ] || echo "packaging-$(basename "$script" .sh)"
		done)
	[ "$listed" = "$expected" ] && ! grep -qx lib <<<"$listed" && return 0
	diag "suites: expected:" "$expected" "got:" "$listed"
	return 1
}

check "results are numbered across suites, with a failure's diagnostics only" \
	results_numbered_across_suites_with_failure_diagnostics_only
check "a suite's whole output is in its log" whole_output_of_a_suite_is_in_its_log
check "the summary without skips or failures" summary_without_skips_or_failures
check "a crash after some results is a failure" a_crash_after_some_results_is_a_failure
check "a bad exit status without a failure is a failure" a_bad_exit_status_without_a_failure_is_a_failure
check "a suite without a plan is a failure" a_suite_without_a_plan_is_a_failure
check "a result is printed before its suite ends" a_result_is_printed_before_its_suite_ends
check "every script but the libraries is a suite" every_script_but_the_libraries_is_a_suite
finish
