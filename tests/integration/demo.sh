#!/bin/bash
# The demonstration `make demo` runs (tests/demo.sh): it reaches the web
# server through port 80 from a client and from the server itself, leaves
# no namespace behind, and writes escape sequences only to a terminal and
# only without NO_COLOR.
. "$(dirname "$0")/lib.sh"

ESCAPE=$'\033'

# demo_namespaces PID: the namespaces the demo run by process PID made
# (it names them with its pid) and did not remove.
demo_namespaces() {
	ip netns list | awk -v server="portredir-demo-server-$1" -v client="portredir-demo-client-$1" \
		'$1 == server || $1 == client { print $1 }'
}

# on_terminal COMMAND: COMMAND (a shell command line) with a
# pseudo-terminal as stdout, its output (with the terminal's \r removed)
# on stdout.
on_terminal() {
	script -qefc "$1" /dev/null </dev/null | tr -d '\r'
}

test_demo_into_a_pipe_reaches_the_server_and_writes_no_escapes() {
	local output answers pid
	mkfifo "$TEST_DIR/pipe"
	cat "$TEST_DIR/pipe" >"$TEST_DIR/output" &
	bash tests/demo.sh >"$TEST_DIR/pipe" 2>&1 &
	pid=$!
	wait
	output=$(cat "$TEST_DIR/output")
	answers=$(grep -c "^hello from a web server running as $LISTENER_USER on port 8080\$" <<<"$output" || true)
	expect_eq "answers through port 80 (2 from the client, 2 from the server)" 4 "$answers"
	expect_eq "last line" "== done: the namespaces are removed, the host's firewall was never touched" \
		"$(tail -n 1 <<<"$output")"
	expect_eq "lines with an escape character" "" "$(grep -F "$ESCAPE" <<<"$output" || true)"
	expect_eq "namespaces left behind" "" "$(demo_namespaces "$pid")"
}

test_demo_on_a_terminal_writes_bold_headings() {
	local output
	output=$(on_terminal "bash tests/demo.sh")
	expect_eq "last line" "${ESCAPE}[1m== done: the namespaces are removed, the host's firewall was never touched${ESCAPE}[0m" \
		"$(tail -n 1 <<<"$output")"
}

test_demo_on_a_terminal_with_no_color_writes_no_escapes() {
	local output
	output=$(on_terminal "NO_COLOR=1 bash tests/demo.sh")
	expect_eq "last line" "== done: the namespaces are removed, the host's firewall was never touched" \
		"$(tail -n 1 <<<"$output")"
	expect_eq "lines with an escape character" "" "$(grep -F "$ESCAPE" <<<"$output" || true)"
}

run_tests
