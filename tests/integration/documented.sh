#!/bin/bash
# The change lines the README and portredir(8) show as their example are
# what diff prints, in its order, for a kernel in that state.
. "$(dirname "$0")/lib.sh"

# The README's example: the code block after "print one line per change".
readme_example() {
	awk '/print one line per change/ { seen = 1 } seen && /^```$/ { if (on) exit; on = 1; next } on' README.md
}

# portredir(8)'s: the first .nf block of OUTPUT, with groff's escapes read.
man_example() {
	awk '/^\.SH OUTPUT/ { seen = 1 } seen && /^\.fi/ { exit } seen && on; seen && /^\.nf/ { on = 1 }' \
		man/portredir.8 | sed 's/\\-/-/g'
}

# The state both describe: a table that records the sysctl's original
# value (so no table recreation is due), a foreign rule in its output
# chain, tcp 8000 redirected, and the sysctl at 1024; then a mapping of
# tcp 443 and unprivileged_port_start 80.
diff_of_the_documented_state() {
	local ns=$1 before=$TEST_DIR/before.conf after=$TEST_DIR/after.conf
	write_mapping "$before" 'unprivileged_port_start 1000' 'redirect tcp 8000 to 8001'
	write_mapping "$after" 'unprivileged_port_start 80' 'redirect tcp 443 to 8443'
	portredir_in "$ns" -q -f "$before" apply
	in_ns "$ns" sysctl -qw net.ipv4.ip_unprivileged_port_start=1024
	in_ns "$ns" nft add rule inet portredir output counter
	run_captured portredir_in "$ns" -f "$after" diff
	expect_eq "exit status of diff" 1 "$RUN_STATUS"
}

test_the_readme_change_lines_are_what_diff_prints() {
	local ns example
	netns_make ns host
	example=$(readme_example)
	[ -n "$example" ] || { diag "README.md shows no change lines"; return 1; }
	diff_of_the_documented_state "$ns"
	expect_eq "the README's change lines" "$example" "$RUN_OUT"
}

test_the_man_page_change_lines_are_what_diff_prints() {
	local ns example
	netns_make ns host
	example=$(man_example)
	[ -n "$example" ] || { diag "portredir(8) OUTPUT shows no change lines"; return 1; }
	diff_of_the_documented_state "$ns"
	expect_eq "portredir(8)'s change lines" "$example" "$RUN_OUT"
}

run_tests
