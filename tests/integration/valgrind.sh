#!/bin/bash
# apply, diff, show and flush under valgrind, once each path: no memory
# error (uninitialised bytes sent to the kernel included) and no definite
# or indirect leak, with the map dumps on their two threads. The build made
# with SANITIZE=1 is left to AddressSanitizer: valgrind cannot run it.
. "$(dirname "$0")/lib.sh"

# under_valgrind NS STATUS STDOUT ARGUMENTS...: portredir ARGUMENTS in NS
# under valgrind exits STATUS with STDOUT, and valgrind reports nothing.
under_valgrind() {
	local ns=$1 status=$2 out=$3 log
	shift 3
	log=$(mktemp "$TEST_DIR/valgrind.XXXXXX")
	run_captured in_ns "$ns" valgrind -q --log-file="$log" --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect "$PORTREDIR" "$@"
	if [ -s "$log" ]; then
		diag "valgrind on portredir $*:"
		sed 's/^/#   /' "$log" >&2
		return 1
	fi
	expect_eq "exit status of portredir $* under valgrind" "$status" "$RUN_STATUS"
	expect_eq "stdout of portredir $* under valgrind" "$out" "$RUN_OUT"
}

require_plain_build() {
	command -v valgrind >/dev/null || { diag "valgrind is not installed (tests/install-deps.sh installs it)"; return 1; }
	if grep -qa __asan_init "$PORTREDIR"; then
		skip_test "built with AddressSanitizer (SANITIZE=1), which valgrind cannot run; the plain build runs this test"
	fi
}

test_commands_have_no_memory_errors_or_leaks() {
	local ns mapping=$TEST_DIR/start.conf
	require_plain_build
	netns_make ns host
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080' 'redirect tcp,udp 443 to 8443'
	under_valgrind "$ns" 1 "$CREATE_ALL_LINES" -f "$RULES_DIR" diff
	under_valgrind "$ns" 0 "$CREATE_ALL_LINES" -f "$RULES_DIR" apply
	# A repair, then the sysctl and its record in the table's userdata.
	in_ns "$ns" nft insert rule inet portredir output counter
	under_valgrind "$ns" 0 '~ chain output: recreated (unexpected rule found)' -f "$RULES_DIR" apply
	under_valgrind "$ns" 0 '~ table inet portredir: recreated (to record the original unprivileged_port_start)
- unprivileged_port_start 1024
+ unprivileged_port_start 1000' -f "$mapping" apply
	under_valgrind "$ns" 0 "" -f "$mapping" diff
	under_valgrind "$ns" 0 "unprivileged_port_start 1000
redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443" show
	under_valgrind "$ns" 0 '- unprivileged_port_start 1000
+ unprivileged_port_start 1024
- table inet portredir' flush
	expect_no_table "$ns"
}

# The error paths: a mapping with errors, and JSON output.
test_errors_and_json_have_no_memory_errors_or_leaks() {
	local ns bad=$TEST_DIR/bad.conf
	require_plain_build
	netns_make ns host
	write_mapping "$bad" 'redirect tcp 80 to 8080' 'redirect tcp 80 to 9090' 'redirct udp 53 to 5353'
	under_valgrind "$ns" 2 "" -f "$bad" apply
	under_valgrind "$ns" 2 "" -f "$bad" check
	under_valgrind "$ns" 0 '{"changed":true,"changes":[{"op":"~","object":"table inet portredir","action":"created","reason":"missing"},{"op":"+","protocol":"tcp","port":80,"target":8080,"owner":null,"on":null,"iif":null,"family":null},{"op":"+","protocol":"tcp","port":443,"target":8443,"owner":null,"on":null,"iif":null,"family":null},{"op":"+","protocol":"udp","port":443,"target":8443,"owner":null,"on":null,"iif":null,"family":null}]}' \
		--json -f "$RULES_DIR" apply
	under_valgrind "$ns" 0 '{"unprivileged_port_start":null,"redirects":[{"protocol":"tcp","port":80,"target":8080,"owner":null,"on":null,"iif":null,"family":null},{"protocol":"tcp","port":443,"target":8443,"owner":null,"on":null,"iif":null,"family":null},{"protocol":"udp","port":443,"target":8443,"owner":null,"on":null,"iif":null,"family":null}]}' \
		--json show
	under_valgrind "$ns" 2 '{"error":{"message":"'"$bad"': 2 errors; nothing was changed","diagnostics":[{"file":"'"$bad"'","line":3,"column":1,"severity":"error","message":"unknown directive '"'redirct'; did you mean 'redirect'"'?"},{"file":"'"$bad"'","line":2,"column":1,"severity":"error","message":"duplicate redirect for tcp port 80; first defined at '"$bad"':1:1"}]}}' \
		--json -f "$bad" apply
	under_valgrind "$ns" 2 '{"error":{"message":"unknown command '"'aply'; did you mean 'apply'"'?","diagnostics":[]}}' --json aply
	under_valgrind "$ns" 0 '{"version":"0.1.0"}' --json version
	under_valgrind "$ns" 0 "$(cd /tmp && "$PORTREDIR" help apply)" help apply
}

run_tests
