#!/bin/bash
# net.ipv4.ip_unprivileged_port_start kept in sync with the mapping, in
# namespaces of the tests' own; the host's value is never written.
. "$(dirname "$0")/lib.sh"

port_start_of() {
	ip netns exec "$1" cat /proc/sys/net/ipv4/ip_unprivileged_port_start
}

# bind_as_nobody NS PORT: a process without privileges binds PORT in NS.
bind_as_nobody() {
	in_ns_as "$1" "$LISTENER_USER" "$PYTHON" -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$2" 2>/dev/null
}

test_after_apply_a_non_root_process_binds_80_and_not_79() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	write_mapping "$mapping" 'unprivileged_port_start 80'
	if bind_as_nobody "$ns" 80; then
		diag "nobody could bind port 80 before apply"
		return 1
	fi
	expect_portredir "$ns" 0 '~ table inet portredir: created (missing)
- unprivileged_port_start 1024
+ unprivileged_port_start 80' -f "$mapping" apply
	expect_eq "sysctl" 80 "$(port_start_of "$ns")"
	bind_as_nobody "$ns" 80
	if bind_as_nobody "$ns" 79; then
		diag "nobody could bind port 79"
		return 1
	fi
}

test_diff_sees_a_value_changed_behind_its_back_and_apply_restores_it() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	expect_portredir "$ns" 0 "" -f "$mapping" diff
	in_ns "$ns" sysctl -qw net.ipv4.ip_unprivileged_port_start=1024
	expect_portredir "$ns" 1 '- unprivileged_port_start 1024
+ unprivileged_port_start 1000' -f "$mapping" diff
	expect_portredir "$ns" 0 '- unprivileged_port_start 1024
+ unprivileged_port_start 1000' -f "$mapping" apply
	expect_eq "sysctl" 1000 "$(port_start_of "$ns")"
	expect_portredir "$ns" 0 "" -f "$mapping" diff
}

test_show_prints_the_value_as_a_directive() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	expect_portredir "$ns" 0 'unprivileged_port_start 1000
redirect tcp 80 to 8080' show
}

test_flush_restores_the_value_portredir_replaced() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	# Changed again later: the value to restore is still the first one.
	write_mapping "$mapping" 'unprivileged_port_start 2000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	expect_eq "sysctl" 2000 "$(port_start_of "$ns")"
	expect_portredir "$ns" 0 '- unprivileged_port_start 2000
+ unprivileged_port_start 1024
- table inet portredir' flush
	expect_eq "sysctl" 1024 "$(port_start_of "$ns")"
	expect_no_table "$ns"
}

test_flush_leaves_alone_a_value_portredir_never_changed() {
	local ns
	ns=$(netns_add s)
	portredir_in "$ns" -q -f "$RULES_DIR/rules.conf" apply
	in_ns "$ns" sysctl -qw net.ipv4.ip_unprivileged_port_start=900
	expect_portredir "$ns" 0 '- table inet portredir' flush
	expect_eq "sysctl" 900 "$(port_start_of "$ns")"
}

test_two_namespaces_keep_their_own_values_and_the_host_its_own() {
	local one two host_before mapping_one=$TEST_DIR/one.conf mapping_two=$TEST_DIR/two.conf
	host_before=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	one=$(netns_add one)
	two=$(netns_add two)
	write_mapping "$mapping_one" 'unprivileged_port_start 500' 'redirect tcp 80 to 8080'
	write_mapping "$mapping_two" 'unprivileged_port_start 700' 'redirect tcp 80 to 8080'
	portredir_in "$one" -q -f "$mapping_one" apply
	portredir_in "$two" -q -f "$mapping_two" apply
	expect_eq "first namespace" 500 "$(port_start_of "$one")"
	expect_eq "second namespace" 700 "$(port_start_of "$two")"
	expect_eq "host" "$host_before" "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
	expect_portredir "$one" 0 '- unprivileged_port_start 500
+ unprivileged_port_start 1024
- table inet portredir' flush
	expect_eq "second namespace after the first's flush" 700 "$(port_start_of "$two")"
	expect_eq "host" "$host_before" "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
}

test_check_refuses_a_value_above_the_local_port_range() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	in_ns "$ns" sysctl -qw net.ipv4.ip_local_port_range="2000 60999"
	write_mapping "$mapping" 'unprivileged_port_start 3000' 'redirect tcp 80 to 8080'
	run_captured ip netns exec "$ns" "$PORTREDIR" -f "$mapping" check
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "first error" "$mapping:1:1: error: unprivileged_port_start 3000 is above 2000, the first port of net.ipv4.ip_local_port_range, and the kernel refuses that; use a value of at most 2000" \
		"$(head -n 1 <<<"$RUN_ERR")"
}

test_without_a_directive_the_current_value_drives_validation() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	in_ns "$ns" sysctl -qw net.ipv4.ip_unprivileged_port_start=2000
	write_mapping "$mapping" 'redirect tcp 80 to 1500'
	run_captured ip netns exec "$ns" "$PORTREDIR" -f "$mapping" apply
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "first error" "$mapping:1:20: error: target port 1500 is below 2000, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 2000 or declare a lower unprivileged_port_start" \
		"$(head -n 1 <<<"$RUN_ERR")"
	expect_eq "ruleset" "" "$(in_ns "$ns" nft list ruleset)"
	expect_eq "sysctl" 2000 "$(port_start_of "$ns")"
}

test_a_failed_sysctl_write_is_one_line_and_says_the_rules_were_applied() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add s)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	# A container's read-only /proc/sys, in a mount namespace of its own.
	run_captured ip netns exec "$ns" unshare -m sh -c \
		'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$0" -f "$1" apply' \
		"$PORTREDIR" "$mapping"
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "stderr" "portredir: error: cannot set net.ipv4.ip_unprivileged_port_start to 1000: Read-only file system; the redirect rules were applied, the sysctl was not (is /proc/sys read-only?)" "$RUN_ERR"
	expect_eq "stdout: what was applied" '~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080
- unprivileged_port_start 1024
+ unprivileged_port_start 1000' "$RUN_OUT"
	expect_table "$ns" "$(table_text '80 : 8080' '')"
	expect_eq "sysctl" 1024 "$(port_start_of "$ns")"
}

run_tests
