#!/bin/bash
# The managed table portredir builds is exactly the one nft builds from
# lib.sh's CONTRACT_LAYOUT (the layout docs/kernel.md shows), down to the rule bytecode nft itself would generate.
. "$(dirname "$0")/lib.sh"

# `nft list table inet portredir` for the shipped mapping, written out here
# rather than derived, so that a change of the oracle shows in review.
LITERAL_TABLE='table inet portredir {
	map tcp_redirects {
		type inet_service : inet_service
		elements = { 80 : 8080, 443 : 8443 }
	}

	map udp_redirects {
		type inet_service : inet_service
		elements = { 443 : 8443 }
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local meta l4proto tcp redirect to :tcp dport map @tcp_redirects
		fib daddr type local meta l4proto udp redirect to :udp dport map @udp_redirects
	}

	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local meta l4proto tcp redirect to :tcp dport map @tcp_redirects
		fib daddr type local meta l4proto udp redirect to :udp dport map @udp_redirects
	}
}'

# The oracle itself: nft lists CONTRACT_LAYOUT as the literal above, and
# lib.sh's table_text agrees with both.
test_contract_layout_loaded_by_nft_lists_as_the_expected_table() {
	local scratch
	netns_make scratch scratch
	load_contract_layout "$scratch"
	expect_table "$scratch" "$LITERAL_TABLE"
	expect_eq "table_text of lib.sh" "$LITERAL_TABLE" "$EXPECTED_TABLE"
}

test_shipped_rules_are_tcp_80_and_443_and_udp_443() {
	local ns
	netns_make ns host
	expect_portredir "$ns" 0 'redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443' -f "$RULES_DIR" check
}

test_apply_builds_the_contract_layout() {
	local ns scratch
	netns_make ns host
	netns_make scratch scratch
	expect_portredir "$ns" 0 "$CREATE_ALL_LINES" -f "$RULES_DIR" apply
	expect_table "$ns" "$LITERAL_TABLE"
	load_contract_layout "$scratch"
	expect_eq "portredir's table against nft's" "$(table_of "$scratch")" "$(table_of "$ns")"
}

# `nft --debug=netlink list` decodes what the kernel holds: each rule's
# expressions and each map's elements. Rule handles are dropped (they depend
# on the order objects were created in) and element lines are sorted within
# their map (a hash map dumps in the order of its random seed).
netlink_listing() {
	ip netns exec "$1" nft --debug=netlink list table inet portredir | "$PYTHON" -c '
import re, sys
lines, elements = [], []
for line in sys.stdin.read().split("\n"):
    if line.startswith("\telement "):
        elements.append(line)
        continue
    lines += sorted(elements)
    elements = []
    lines.append(re.sub(r"^(inet portredir (prerouting|output)) [0-9]+( [0-9]+)?$", r"\1", line))
print("\n".join(lines + sorted(elements)))'
}

test_rule_bytecode_equals_what_nft_generates() {
	local ns scratch expected actual
	netns_make ns host
	netns_make scratch scratch
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	load_contract_layout "$scratch"
	expected=$(netlink_listing "$scratch")
	actual=$(netlink_listing "$ns")
	# The oracle must itself hold the redirects (port from a register, flags
	# 0x2: NF_NAT_RANGE_PROTO_SPECIFIED) and both rules of both chains, or
	# two listings missing them would compare equal.
	grep -q '^  \[ redir proto_min reg 1 .*flags 0x2 \]$' <<<"$expected"
	[ "$(grep -c '^inet portredir \(prerouting\|output\)$' <<<"$expected")" -eq 4 ]
	expect_eq "nft --debug=netlink list table inet portredir" "$expected" "$actual"
}

# The map attributes too: key and data types, and no flags beyond a map's.
test_maps_are_declared_as_nft_declares_them() {
	local ns scratch
	netns_make ns host
	netns_make scratch scratch
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	load_contract_layout "$scratch"
	expect_eq "nft -j list maps" \
		"$(ip netns exec "$scratch" nft -j list maps | sed 's/"handle": [0-9]*/"handle": H/g')" \
		"$(ip netns exec "$ns" nft -j list maps | sed 's/"handle": [0-9]*/"handle": H/g')"
}

test_apply_twice_changes_nothing() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	ruleset_save "$ns" "$TEST_DIR/before"
	expect_portredir "$ns" 0 "" -f "$RULES_DIR" apply
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "nft -a list ruleset" "$TEST_DIR/before" "$TEST_DIR/after"
}

# Both maps and both chains exist while the table does, even when empty.
test_empty_mapping_creates_empty_maps_and_both_chains() {
	local ns
	netns_make ns host
	write_mapping "$TEST_DIR/empty.conf" '# nothing redirected yet'
	expect_portredir "$ns" 0 '~ table inet portredir: created (missing)' -f "$TEST_DIR/empty.conf" apply
	expect_table "$ns" "$(table_text '' '')"
}

test_mapping_without_udp_keeps_the_udp_map_empty() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	write_mapping "$TEST_DIR/tcp.conf" 'redirect tcp 80 to 8080' 'redirect tcp 443 to 8443'
	expect_portredir "$ns" 0 '- redirect udp 443 to 8443' -f "$TEST_DIR/tcp.conf" apply
	expect_table "$ns" "$(table_text '80 : 8080, 443 : 8443' '')"
}

run_tests
