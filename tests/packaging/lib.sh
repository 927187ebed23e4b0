# Shared by the packaging tests (man pages, units, install): TAP output.
# A script calls check for each test and ends with `finish`.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
TEST_NUMBER=0

diag() {
	printf '%s\n' "$@" | sed 's/^/# /' >&2
}

# check DESCRIPTION COMMAND...: one test, passed when COMMAND succeeds.
check() {
	local what=$1
	shift
	TEST_NUMBER=$((TEST_NUMBER + 1))
	if "$@"; then
		echo "ok $TEST_NUMBER - $what"
	else
		echo "not ok $TEST_NUMBER - $what"
	fi
}

# skip DESCRIPTION REASON
skip() {
	TEST_NUMBER=$((TEST_NUMBER + 1))
	echo "ok $TEST_NUMBER - $1 # SKIP $2"
}

# silent COMMAND...: COMMAND succeeds and prints nothing at all.
silent() {
	local output
	output=$("$@" 2>&1)
	local status=$?
	[ "$status" -eq 0 ] && [ -z "$output" ] && return 0
	diag "$* (exit status $status):" "$output"
	return 1
}

finish() {
	echo "1..$TEST_NUMBER"
}

# make_variable NAME [MAKE ARGUMENTS...]: the value the Makefile gives NAME
# (with the same command-line variables as the make that runs the tests).
make_variable() {
	local name=$1
	shift
	make --no-print-directory -s -f Makefile -f - "$@" print-make-variable \
		<<<"print-make-variable: ; @echo '\$($name)'"
}

# A scratch directory, removed at exit.
SCRATCH=$(mktemp -d /tmp/portredir-packaging.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
