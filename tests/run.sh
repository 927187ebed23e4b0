#!/bin/bash
# Runs every test of portredir: the unit test binaries given as arguments,
# the malformed-file corpus, the hostile-input matrix, the integration
# scripts and the packaging checks (man pages, units, install). Each suite
# speaks TAP; tests/tap.sh prints each result as it arrives, numbered across
# all suites and named by its suite ("ok 12 - corpus: malformed
# port-zero.conf"), with a failure's diagnostics after it, and nothing
# else: everything a suite writes goes to build/check/SUITE.log. The last
# line is "N passed, N failed" (", N skipped" when some were); exit status
# 1 on any failure. With --list first, it prints the suites and their
# commands instead of running them.
set -u
cd "$(dirname "$0")/.."
. tests/tap.sh

# each_suite ACTION UNIT_TESTS...: ACTION NAME COMMAND... for every suite,
# in the order they run.
each_suite() {
	local action=$1 unit script
	shift
	for unit in "$@"; do
		"$action" "$(basename "$unit")" env CMOCKA_MESSAGE_OUTPUT=TAP "$unit"
	done
	"$action" corpus tests/run-corpus.sh
	"$action" hostile bash tests/hostile/run.sh
	for script in tests/integration/*.sh; do
		# lib.sh is what the others source, not a suite.
		[ "$(basename "$script")" != lib.sh ] || continue
		"$action" "$(basename "$script" .sh)" bash "$script"
	done
	for script in tests/packaging/*.sh; do
		[ "$(basename "$script")" != lib.sh ] || continue
		"$action" "packaging-$(basename "$script" .sh)" bash "$script"
	done
}

# list_suite NAME COMMAND...: "NAME: COMMAND", for --list.
list_suite() {
	local name=$1
	shift
	echo "$name: $*"
}

if [ "${1:-}" = --list ]; then
	shift
	each_suite list_suite "$@"
	exit 0
fi
mkdir -p "$LOG_DIR"
each_suite run_suite "$@"
summary
