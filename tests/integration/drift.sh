#!/bin/bash
# diff reports exactly what differs between the mapping and the kernel,
# whichever side changed, and apply repairs it: afterwards diff is in sync
# and the table is the shipped mapping's layout again.
. "$(dirname "$0")/lib.sh"

# A namespace $NS where the shipped mapping was applied, and the table
# checked, as the starting point of every scenario.
start_in_sync() {
	netns_make NS host
	portredir_in "$NS" -q -f "$RULES_DIR" apply
	expect_table "$NS" "$EXPECTED_TABLE"
}

# expect_drift_repaired FILE LINES TABLE: diff reports LINES (exit 1) and
# changes nothing; apply prints the same LINES (exit 0); then diff is in
# sync and the table is TABLE (a recreated chain or map may come last).
expect_drift_repaired() {
	local file=$1 lines=$2 table=$3
	ruleset_save "$NS" "$TEST_DIR/before-diff"
	expect_portredir "$NS" 1 "$lines" -f "$file" diff || return 1
	ruleset_save "$NS" "$TEST_DIR/after-diff"
	expect_same_file "ruleset after diff" "$TEST_DIR/before-diff" "$TEST_DIR/after-diff" || return 1
	expect_portredir "$NS" 0 "$lines" -f "$file" apply || return 1
	expect_portredir "$NS" 0 "" -f "$file" diff || return 1
	expect_table_objects "$NS" "$table"
}

test_diff_in_sync_prints_nothing_and_exits_0() {
	start_in_sync
	expect_portredir "$NS" 0 "" -f "$RULES_DIR" diff
}

test_diff_in_a_fresh_namespace_wants_the_whole_table() {
	netns_make NS host
	expect_drift_repaired "$RULES_DIR" "$CREATE_ALL_LINES" "$EXPECTED_TABLE"
}

# File order does not matter: tcp before udp, ports ascending.
test_mappings_added_to_the_file_are_added_in_order() {
	start_in_sync
	write_mapping "$TEST_DIR/more.conf" \
		'redirect udp 53 to 5353' \
		'redirect tcp,udp 443 to 8443' \
		'redirect tcp 80 to 8080' \
		'redirect tcp 22 to 2222'
	expect_drift_repaired "$TEST_DIR/more.conf" '+ redirect tcp 22 to 2222
+ redirect udp 53 to 5353' "$(table_text '22 : 2222, 80 : 8080, 443 : 8443' '53 : 5353, 443 : 8443')"
}

test_mapping_removed_from_the_file_is_removed() {
	start_in_sync
	write_mapping "$TEST_DIR/less.conf" 'redirect tcp 80 to 8080' 'redirect udp 443 to 8443'
	expect_drift_repaired "$TEST_DIR/less.conf" '- redirect tcp 443 to 8443' \
		"$(table_text '80 : 8080' '443 : 8443')"
}

test_changed_target_is_removed_then_added() {
	start_in_sync
	write_mapping "$TEST_DIR/moved.conf" 'redirect tcp 80 to 9090' 'redirect tcp,udp 443 to 8443'
	expect_drift_repaired "$TEST_DIR/moved.conf" '- redirect tcp 80 to 8080
+ redirect tcp 80 to 9090' "$(table_text '80 : 9090, 443 : 8443' '443 : 8443')"
}

# "A change of one mapping is one element added or removed": the maps,
# chains and rules keep their handles.
test_mapping_changes_touch_only_elements() {
	start_in_sync
	in_ns "$NS" nft -a list table inet portredir | grep -v 'elements = ' >"$TEST_DIR/before"
	write_mapping "$TEST_DIR/changed.conf" 'redirect tcp 80 to 9090' 'redirect tcp 22 to 2222' \
		'redirect udp 53 to 5353'
	expect_portredir "$NS" 0 '+ redirect tcp 22 to 2222
- redirect tcp 80 to 8080
+ redirect tcp 80 to 9090
- redirect tcp 443 to 8443
+ redirect udp 53 to 5353
- redirect udp 443 to 8443' -f "$TEST_DIR/changed.conf" apply
	in_ns "$NS" nft -a list table inet portredir | grep -v 'elements = ' >"$TEST_DIR/after"
	expect_same_file "table without its elements, with handles" "$TEST_DIR/before" "$TEST_DIR/after"
	expect_table "$NS" "$(table_text '22 : 2222, 80 : 9090' '53 : 5353')"
}

test_element_deleted_with_nft_is_added_back() {
	start_in_sync
	in_ns "$NS" nft delete element inet portredir tcp_redirects '{ 80 }'
	expect_drift_repaired "$RULES_DIR" '+ redirect tcp 80 to 8080' "$EXPECTED_TABLE"
}

test_element_added_with_nft_is_removed() {
	start_in_sync
	in_ns "$NS" nft add element inet portredir udp_redirects '{ 53 : 5353 }'
	in_ns "$NS" nft add element inet portredir tcp_redirects '{ 8000 : 8001 }'
	expect_drift_repaired "$RULES_DIR" '- redirect tcp 8000 to 8001
- redirect udp 53 to 5353' "$EXPECTED_TABLE"
}

test_element_changed_with_nft_is_restored() {
	start_in_sync
	in_ns "$NS" nft delete element inet portredir udp_redirects '{ 443 }'
	in_ns "$NS" nft add element inet portredir udp_redirects '{ 443 : 9443 }'
	expect_drift_repaired "$RULES_DIR" '- redirect udp 443 to 9443
+ redirect udp 443 to 8443' "$EXPECTED_TABLE"
}

test_foreign_rule_in_a_managed_chain_recreates_the_chain() {
	start_in_sync
	in_ns "$NS" nft insert rule inet portredir output counter
	expect_drift_repaired "$RULES_DIR" '~ chain output: recreated (unexpected rule found)' "$EXPECTED_TABLE"
}

test_foreign_rule_and_mapping_change_are_reported_together() {
	start_in_sync
	in_ns "$NS" nft add rule inet portredir prerouting tcp dport 22 accept
	in_ns "$NS" nft delete element inet portredir tcp_redirects '{ 443 }'
	expect_drift_repaired "$RULES_DIR" '~ chain prerouting: recreated (unexpected rule found)
+ redirect tcp 443 to 8443' "$EXPECTED_TABLE"
}

test_deleted_managed_rule_recreates_the_chain() {
	local handle
	start_in_sync
	handle=$(in_ns "$NS" nft -a list chain inet portredir prerouting |
		sed -n 's/.*udp dport map @udp_redirects # handle \([0-9]*\)$/\1/p')
	[ -n "$handle" ]
	in_ns "$NS" nft delete rule inet portredir prerouting handle "$handle"
	expect_drift_repaired "$RULES_DIR" '~ chain prerouting: recreated (rule missing)' "$EXPECTED_TABLE"
}

test_deleted_chain_is_created() {
	start_in_sync
	in_ns "$NS" nft delete chain inet portredir prerouting
	expect_drift_repaired "$RULES_DIR" '~ chain prerouting: created (missing)' "$EXPECTED_TABLE"
}

test_deleted_chains_are_created() {
	start_in_sync
	in_ns "$NS" nft delete chain inet portredir output
	in_ns "$NS" nft delete chain inet portredir prerouting
	expect_drift_repaired "$RULES_DIR" '~ chain prerouting: created (missing)
~ chain output: created (missing)' "$EXPECTED_TABLE"
}

# The kernel refuses to delete a map that rules use: deleting it takes the
# chains first, and then everything missing is reported.
test_deleted_map_is_created_with_its_elements() {
	start_in_sync
	in_ns "$NS" nft delete chain inet portredir prerouting
	in_ns "$NS" nft delete chain inet portredir output
	in_ns "$NS" nft delete map inet portredir tcp_redirects
	expect_drift_repaired "$RULES_DIR" '~ map tcp_redirects: created (missing)
~ chain prerouting: created (missing)
~ chain output: created (missing)
+ redirect tcp 80 to 8080
+ redirect tcp 443 to 8443' "$EXPECTED_TABLE"
}

test_flushed_ruleset_is_rebuilt() {
	start_in_sync
	in_ns "$NS" nft flush ruleset
	expect_drift_repaired "$RULES_DIR" "$CREATE_ALL_LINES" "$EXPECTED_TABLE"
}

test_diff_json_reports_the_changes() {
	netns_make NS host
	run_captured portredir_in "$NS" --json -f "$RULES_DIR" diff
	expect_eq "exit status of diff --json" 1 "$RUN_STATUS"
	expect_json "diff --json" '{"in_sync": false, "changes": [
		{"op": "~", "object": "table inet portredir", "action": "created", "reason": "missing"},
		{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null},
		{"op": "+", "protocol": "tcp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null},
		{"op": "+", "protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null}]}' "$RUN_OUT"
	portredir_in "$NS" -q -f "$RULES_DIR" apply
	run_captured portredir_in "$NS" --json -f "$RULES_DIR" diff
	expect_eq "exit status of diff --json in sync" 0 "$RUN_STATUS"
	expect_json "diff --json in sync" '{"in_sync": true, "changes": []}' "$RUN_OUT"
}

test_apply_json_reports_the_changes_made() {
	start_in_sync
	in_ns "$NS" nft insert rule inet portredir output counter
	in_ns "$NS" nft add element inet portredir tcp_redirects '{ 22 : 2222 }'
	in_ns "$NS" nft delete element inet portredir udp_redirects '{ 443 }'
	run_captured portredir_in "$NS" --json -f "$RULES_DIR" apply
	expect_eq "exit status of apply --json" 0 "$RUN_STATUS"
	expect_json "apply --json" '{"changed": true, "changes": [
		{"op": "~", "object": "chain output", "action": "recreated", "reason": "unexpected rule found"},
		{"op": "-", "protocol": "tcp", "port": 22, "target": 2222, "owner": null, "on": null, "iif": null, "family": null},
		{"op": "+", "protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null}]}' "$RUN_OUT"
	expect_table_objects "$NS" "$EXPECTED_TABLE"
	run_captured portredir_in "$NS" --json -f "$RULES_DIR" apply
	expect_eq "exit status of apply --json in sync" 0 "$RUN_STATUS"
	expect_json "apply --json in sync" '{"changed": false, "changes": []}' "$RUN_OUT"
}

run_tests
