#!/bin/bash
# portredir touches only table inet portredir: other owners' tables survive
# apply and flush byte for byte, and diff / apply --dry-run change nothing.
. "$(dirname "$0")/lib.sh"

# Tables of other owners: a firewall, a NAT table with its own prerouting
# and output chains at the same hooks and priorities as portredir's, and a
# table called portredir in another family.
OTHER_TABLES='table ip filter {
	chain input {
		type filter hook input priority filter; policy accept;
		iif "lo" accept
		ct state established,related counter accept
		tcp dport 22 accept
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
	}
}
table inet nat {
	set blocked {
		type ipv4_addr
		elements = { 198.18.0.99, 198.18.0.100 }
	}
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip saddr @blocked counter
		tcp dport 8022 redirect to :22
	}
	chain output {
		type nat hook output priority -100; policy accept;
		meta l4proto udp counter
	}
}
table ip portredir {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 81 redirect to :8081
	}
}'

add_other_tables() {
	printf '%s\n' "$OTHER_TABLES" | in_ns "$1" nft -f -
}

# save_other_tables NS FILE: each table of another owner as nft lists it,
# with handles (a deleted and recreated table would differ).
save_other_tables() {
	{
		in_ns "$1" nft -a list table ip filter
		in_ns "$1" nft -a list table inet nat
		in_ns "$1" nft -a list table ip portredir
	} >"$2"
}

test_other_tables_survive_apply_and_flush() {
	local ns
	netns_make ns host
	add_other_tables "$ns"
	save_other_tables "$ns" "$TEST_DIR/initial"
	ruleset_save "$ns" "$TEST_DIR/initial-ruleset"
	expect_portredir "$ns" 0 "$CREATE_ALL_LINES" -f "$RULES_DIR" apply
	save_other_tables "$ns" "$TEST_DIR/after-apply"
	expect_same_file "other tables after apply" "$TEST_DIR/initial" "$TEST_DIR/after-apply"
	expect_table "$ns" "$EXPECTED_TABLE"
	portredir_in "$ns" -q flush
	save_other_tables "$ns" "$TEST_DIR/after-flush"
	expect_same_file "other tables after flush" "$TEST_DIR/initial" "$TEST_DIR/after-flush"
	ruleset_save "$ns" "$TEST_DIR/final-ruleset"
	expect_same_file "ruleset after apply and flush" "$TEST_DIR/initial-ruleset" "$TEST_DIR/final-ruleset"
}

test_other_tables_survive_a_repair() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	add_other_tables "$ns"
	save_other_tables "$ns" "$TEST_DIR/initial"
	in_ns "$ns" nft insert rule inet portredir prerouting counter
	in_ns "$ns" nft delete element inet portredir tcp_redirects '{ 443 }'
	expect_portredir "$ns" 0 '~ chain prerouting: recreated (unexpected rule found)
+ redirect tcp 443 to 8443' -f "$RULES_DIR" apply
	save_other_tables "$ns" "$TEST_DIR/after-repair"
	expect_same_file "other tables after a repair" "$TEST_DIR/initial" "$TEST_DIR/after-repair"
	expect_table_objects "$ns" "$EXPECTED_TABLE"
}

# Other tables do not count as differences, nor show up in show.
test_other_tables_are_not_reported() {
	local ns
	netns_make ns host
	add_other_tables "$ns"
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_portredir "$ns" 0 "" -f "$RULES_DIR" diff
	expect_show "$ns" 'redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443'
}

# expect_read_only NS STATUS LINES FILE: diff and apply --dry-run print
# LINES with exit STATUS and leave `nft -a list ruleset` byte-identical.
expect_read_only() {
	local ns=$1 status=$2 lines=$3 file=$4
	ruleset_save "$ns" "$TEST_DIR/before"
	expect_portredir "$ns" "$status" "$lines" -f "$file" diff || return 1
	ruleset_save "$ns" "$TEST_DIR/after-diff"
	expect_same_file "ruleset after diff" "$TEST_DIR/before" "$TEST_DIR/after-diff" || return 1
	expect_portredir "$ns" "$status" "$lines" -f "$file" apply --dry-run || return 1
	ruleset_save "$ns" "$TEST_DIR/after-dry-run"
	expect_same_file "ruleset after apply --dry-run" "$TEST_DIR/before" "$TEST_DIR/after-dry-run"
}

test_diff_and_dry_run_do_not_create_the_table() {
	local ns
	netns_make ns host
	add_other_tables "$ns"
	expect_read_only "$ns" 1 "$CREATE_ALL_LINES" "$RULES_DIR"
	expect_no_table "$ns"
}

test_diff_and_dry_run_change_nothing_when_in_sync() {
	local ns
	netns_make ns host
	add_other_tables "$ns"
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_read_only "$ns" 0 "" "$RULES_DIR"
}

test_diff_and_dry_run_repair_nothing() {
	local ns
	netns_make ns host
	add_other_tables "$ns"
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft insert rule inet portredir output counter
	in_ns "$ns" nft delete chain inet portredir prerouting
	in_ns "$ns" nft add element inet portredir udp_redirects '{ 53 : 5353 }'
	write_mapping "$TEST_DIR/moved.conf" 'redirect tcp 80 to 9090' 'redirect tcp,udp 443 to 8443'
	expect_read_only "$ns" 1 '~ chain prerouting: created (missing)
~ chain output: recreated (unexpected rule found)
- redirect tcp 80 to 8080
+ redirect tcp 80 to 9090
- redirect udp 53 to 5353' "$TEST_DIR/moved.conf"
}

test_dry_run_json_is_the_diff_json() {
	local ns diff_json
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft delete element inet portredir tcp_redirects '{ 80 }'
	ruleset_save "$ns" "$TEST_DIR/before"
	run_captured portredir_in "$ns" --json -f "$RULES_DIR" diff
	expect_eq "exit status of diff --json" 1 "$RUN_STATUS"
	diff_json=$RUN_OUT
	expect_json "diff --json" '{"in_sync": false, "changes": [
		{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}]}' "$diff_json"
	run_captured portredir_in "$ns" --json -f "$RULES_DIR" apply --dry-run
	expect_eq "exit status of apply --dry-run --json" 1 "$RUN_STATUS"
	expect_eq "apply --dry-run --json" "$diff_json" "$RUN_OUT"
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset after diff and apply --dry-run" "$TEST_DIR/before" "$TEST_DIR/after"
}

run_tests
