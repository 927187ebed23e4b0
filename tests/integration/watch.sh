#!/bin/bash
# portredir watch in a namespace: it repairs what others change, applies
# edits of the mapping, survives an invalid file, never reacts to its own
# transactions, and leaves the rules in place when it stops.
. "$(dirname "$0")/lib.sh"

# start_watch NS MAPPING [OPTION...]: watch running in NS, its log in
# $TEST_DIR/watch.log, its stdout (the events of --json) in
# $TEST_DIR/watch.out, its pid in $WATCH_PID; returns once it is ready.
start_watch() {
	local ns=$1 mapping=$2
	shift 2
	: >"$TEST_DIR/watch.log"
	: >"$TEST_DIR/watch.out"
	ip netns exec "$ns" "$PORTREDIR" -f "$mapping" "$@" watch >>"$TEST_DIR/watch.out" 2>>"$TEST_DIR/watch.log" &
	WATCH_PID=$!
	BACKGROUND_PIDS+=("$WATCH_PID")
	wait_for "watch to start" log_has "watching $mapping"
}

log_has() {
	grep -qF -- "$1" "$TEST_DIR/watch.log"
}

# log_count TEXT: how many log lines contain TEXT.
log_count() {
	grep -cF -- "$1" "$TEST_DIR/watch.log" || true
}

# log_count_above TEXT N: more than N log lines contain TEXT.
log_count_above() {
	[ "$(log_count "$1")" -gt "$2" ]
}

# sysctl_is NS VALUE
sysctl_is() {
	[ "$(ip netns exec "$1" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" = "$2" ]
}

table_is() {
	[ "$(table_of "$1" 2>/dev/null)" = "$2" ]
}

table_objects_are() {
	local table
	table=$(table_of "$1" 2>/dev/null) || return 1
	[ "$(sort_table_objects <<<"$table")" = "$(sort_table_objects <<<"$2")" ]
}

# A marker that every earlier notification was read: watch handles its
# sources in one loop, and a SIGHUP is logged, read again and (-v) its
# synchronisation logged after what was queued before it.
sync_with_watch() {
	local before
	before=$(log_count "SIGHUP: reading")
	kill -HUP "$WATCH_PID"
	wait_for "watch to handle SIGHUP" log_count_above "SIGHUP: reading" "$before"
	wait_for "watch to read the mapping again" log_has "changed: the kernel already matches"
}

test_applies_at_start_and_says_it_is_watching() {
	local ns
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf"
	wait_for "the table" table_is "$ns" "$EXPECTED_TABLE"
	log_has "started: applied 4 changes: ~ table inet portredir: created (missing); + redirect tcp 80 to 8080; + redirect tcp 443 to 8443; + redirect udp 443 to 8443"
}

test_flush_ruleset_is_repaired() {
	local ns
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf"
	wait_for "the table" table_is "$ns" "$EXPECTED_TABLE"
	in_ns "$ns" nft flush ruleset
	wait_for "the table to come back" table_is "$ns" "$EXPECTED_TABLE"
	wait_for "the repair to be logged" log_has "changed by nft (pid "
}

test_element_deleted_with_nft_is_restored() {
	local ns
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf"
	wait_for "the table" table_is "$ns" "$EXPECTED_TABLE"
	in_ns "$ns" nft delete element inet portredir tcp_redirects '{ 80 }'
	wait_for "the element to come back" table_is "$ns" "$EXPECTED_TABLE"
	wait_for "the repair to be logged" log_has "applied 1 change: + redirect tcp 80 to 8080"
}

test_foreign_rule_in_a_managed_chain_is_removed() {
	local ns
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf"
	wait_for "the table" table_is "$ns" "$EXPECTED_TABLE"
	in_ns "$ns" nft insert rule inet portredir output counter
	wait_for "the chain to be repaired" table_objects_are "$ns" "$EXPECTED_TABLE"
	wait_for "the repair to be logged" log_has "applied 1 change: ~ chain output: recreated (unexpected rule found)"
}

test_mapping_edited_in_place_is_applied() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$mapping"
	printf 'redirect tcp 443 to 8443\n' >>"$mapping"
	wait_for "the edit to be applied" table_is "$ns" "$(table_text '80 : 8080, 443 : 8443' '')"
	wait_for "the edit to be logged" log_has "$mapping changed: applied 1 change: + redirect tcp 443 to 8443"
}

test_mapping_replaced_by_rename_is_applied() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$mapping"
	# What editors and configuration tools do: write a new file, rename it.
	write_mapping "$TEST_DIR/.rules.conf.new" 'redirect tcp 80 to 9090' 'redirect udp 53 to 5353'
	mv "$TEST_DIR/.rules.conf.new" "$mapping"
	wait_for "the new file to be applied" table_is "$ns" "$(table_text '80 : 9090' '53 : 5353')"
	wait_for "the change to be logged" log_has "$mapping changed: applied 3 changes: - redirect tcp 80 to 8080; + redirect tcp 80 to 9090; + redirect udp 53 to 5353"
}

test_dropin_added_to_a_directory_is_applied() {
	local ns dir=$TEST_DIR/portredir.d
	ns=$(netns_add w)
	mkdir -p "$dir"
	write_mapping "$dir/10-web.conf" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$dir/"
	write_mapping "$dir/20-dns.conf" 'redirect udp 53 to 5353'
	wait_for "the drop-in to be applied" table_is "$ns" "$(table_text '80 : 8080' '53 : 5353')"
}

# The directory and its parent removed while watch runs: the last valid
# mapping stays, and the directory made again later is applied.
test_directory_removed_and_created_again_is_applied() {
	local ns dir=$TEST_DIR/later/portredir.d
	ns=$(netns_add w)
	mkdir -p "$dir"
	write_mapping "$dir/web.conf" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$dir"
	rm -r "$TEST_DIR/later"
	wait_for "the error" log_has "error: $dir is not valid; keeping the last valid mapping until it is fixed"
	table_is "$ns" "$(table_text '80 : 8080' '')"
	mkdir -p "$dir"
	write_mapping "$dir/web.conf" 'redirect tcp 80 to 9090'
	wait_for "the new directory to be applied" table_is "$ns" "$(table_text '80 : 9090' '')"
}

test_invalid_mapping_keeps_the_last_state_until_fixed() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$mapping"
	wait_for "the table" table_is "$ns" "$(table_text '80 : 8080' '')"
	write_mapping "$mapping" 'redirect tcp 80 to 8080' 'redirct tcp 443 to 8443'
	wait_for "the error to be logged" log_has "$mapping:2:1: error: unknown directive 'redirct'; did you mean 'redirect'?"
	log_has "error: $mapping is not valid; keeping the last valid mapping until it is fixed"
	table_is "$ns" "$(table_text '80 : 8080' '')"
	# Still watching: the table is repaired with the last valid mapping.
	in_ns "$ns" nft flush ruleset
	wait_for "the repair" table_is "$ns" "$(table_text '80 : 8080' '')"
	write_mapping "$mapping" 'redirect tcp 80 to 8080' 'redirect tcp 443 to 8443'
	wait_for "the fixed file to be applied" table_is "$ns" "$(table_text '80 : 8080, 443 : 8443' '')"
}

test_one_repair_per_external_change_and_none_for_its_own() {
	local ns
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf" -v
	wait_for "the table" table_is "$ns" "$EXPECTED_TABLE"
	# Each change waits for the repair's log line, written once watch has
	# compared the generation after its own commit: a change made before
	# that is one it could only call "while portredir was busy".
	for element in 80 443; do
		in_ns "$ns" nft delete element inet portredir tcp_redirects "{ $element }"
		wait_for "the element to come back" table_is "$ns" "$EXPECTED_TABLE"
		wait_for "the repair to be logged" log_count_above "changed by nft (pid " $((element == 80 ? 0 : 1))
	done
	in_ns "$ns" nft flush ruleset
	wait_for "the table to come back" table_is "$ns" "$EXPECTED_TABLE"
	sync_with_watch
	# The start, two elements and one flush: four applies, each logged
	# once; its own transactions caused none, nor even a comparison.
	expect_eq "applies logged" 4 "$(log_count ": applied ")"
	expect_eq "repairs logged" 3 "$(log_count "changed by nft (pid ")"
	expect_eq "reactions to its own transactions" 0 "$(log_count "changed by portredir (pid ")"
}

test_sysctl_drift_is_repaired_at_the_interval() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	start_watch "$ns" "$mapping" --interval 1
	wait_for "the sysctl" sysctl_is "$ns" 1000
	in_ns "$ns" sysctl -qw net.ipv4.ip_unprivileged_port_start=1024
	wait_for "the sysctl to be restored" sysctl_is "$ns" 1000
	wait_for "the drift to be logged" \
		log_has "net.ipv4.ip_unprivileged_port_start drifted: applied 2 changes: - unprivileged_port_start 1024; + unprivileged_port_start 1000"
}

test_sigterm_exits_0_and_leaves_the_rules() {
	local ns status
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf"
	wait_for "the table" table_is "$ns" "$EXPECTED_TABLE"
	kill -TERM "$WATCH_PID"
	status=0
	wait "$WATCH_PID" || status=$?
	expect_eq "exit status" 0 "$status"
	log_has "stopping on Terminated; the rules stay in place"
	table_is "$ns" "$EXPECTED_TABLE"
}

test_hold_keeps_others_from_changing_the_table() {
	local ns status other=$TEST_DIR/other.conf
	ns=$(netns_add w)
	start_watch "$ns" "$RULES_DIR/rules.conf" --hold
	wait_for "the table" table_of "$ns"
	if log_has "this kernel cannot hold table inet portredir"; then
		# An older kernel: watch says so once and repairs instead.
		in_ns "$ns" nft flush ruleset
		wait_for "the repair" table_is "$ns" "$EXPECTED_TABLE"
		return 0
	fi
	log_has "watching $RULES_DIR/rules.conf and table inet portredir, which it holds"
	table_of "$ns" | grep -q 'flags owner'
	# flush ruleset passes an owned table by; nft cannot change it.
	in_ns "$ns" nft flush ruleset
	table_of "$ns" >/dev/null
	if in_ns "$ns" nft delete element inet portredir tcp_redirects '{ 80 }' 2>/dev/null; then
		diag "nft changed a held table"
		return 1
	fi
	# Another portredir may compare, but not change it.
	expect_portredir "$ns" 0 "" -f "$RULES_DIR/rules.conf" diff
	write_mapping "$other" 'redirect tcp 80 to 9090'
	status=0
	in_ns "$ns" "$PORTREDIR" -f "$other" apply >/dev/null 2>"$TEST_DIR/apply.err" || status=$?
	expect_eq "apply exit status" 2 "$status"
	grep -q "^portredir: error: table inet portredir is held by another process (netlink port [0-9]*, a 'portredir watch --hold'?); stop it or let it apply the mapping; nothing was changed$" "$TEST_DIR/apply.err"
	# The table outlives the watch that held it.
	kill -TERM "$WATCH_PID"
	wait "$WATCH_PID"
	table_of "$ns" | grep -q 'tcp_redirects'
}

# events_are N: watch --json has printed N lines.
events_are() {
	[ "$(wc -l <"$TEST_DIR/watch.out")" -eq "$1" ]
}

# expect_events EXPECTED...: $TEST_DIR/watch.out is one JSON object per
# line, each equal as data to the EXPECTED one of its line; "pid": 0 in an
# expected object stands for any positive pid, and "message" ending in
# "*" for any text after what precedes it.
expect_events() {
	"$PYTHON" -c '
import json, sys
expected = [json.loads(line) for line in sys.argv[2:]]
lines = open(sys.argv[1]).read().split("\n")
if lines[-1] != "":
    sys.exit("# the last event does not end its line")
actual = []
for line in lines[:-1]:
    try:
        event = json.loads(line)
    except ValueError as error:
        sys.exit("# not one JSON object (%s):\n#   %s" % (error, line))
    if not isinstance(event, dict):
        sys.exit("# not a JSON object:\n#   %s" % line)
    actual.append(event)
for want, got in zip(expected, actual):
    if want.get("pid") == 0 and isinstance(got.get("pid"), int) and got["pid"] > 0:
        want["pid"] = got["pid"]
    if want.get("message", "").endswith("*") and got.get("message", "").startswith(want["message"][:-1]):
        want["message"] = got["message"]
if actual != expected:
    sys.exit("# events: expected:\n%s\n# got:\n%s" % (
        "\n".join("#   " + json.dumps(e) for e in expected), "\n".join("#   " + json.dumps(e) for e in actual)))
' "$TEST_DIR/watch.out" "$@"
}

# watch --json: one JSON object per line on stdout for each apply of a
# newly read mapping, each repair, and each invalid mapping; nothing for
# a check that changed nothing.
test_json_prints_one_object_per_line_per_event() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$mapping" --json
	wait_for "the first event" events_are 1
	in_ns "$ns" nft delete element inet portredir tcp_redirects '{ 80 }'
	wait_for "the repair" events_are 2
	write_mapping "$mapping" 'redirct tcp 80 to 9090'
	wait_for "the invalid mapping" events_are 3
	write_mapping "$mapping" 'redirect tcp 80 to 9090'
	wait_for "the fixed mapping" events_are 4
	kill -HUP "$WATCH_PID"
	wait_for "the mapping read again" events_are 5
	wait_for "the table" table_is "$ns" "$(table_text '80 : 9090' '')"
	expect_events \
		'{"event": "applied", "cause": "start", "changed": true, "changes": [
			{"op": "~", "object": "table inet portredir", "action": "created", "reason": "missing"},
			{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}]}' \
		'{"event": "repaired", "cause": "table", "process": "nft", "pid": 0, "changed": true, "changes": [
			{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}]}' \
		'{"event": "invalid", "cause": "file", "path": "'"$mapping"'", "error_count": 1, "warning_count": 0,
			"diagnostics": [{"file": "'"$mapping"'", "line": 1, "column": 1, "severity": "error",
				"message": "unknown directive '"'redirct'; did you mean 'redirect'"'?"}]}' \
		'{"event": "applied", "cause": "file", "changed": true, "changes": [
			{"op": "-", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null},
			{"op": "+", "protocol": "tcp", "port": 80, "target": 9090, "owner": null, "on": null, "iif": null, "family": null}]}' \
		'{"event": "applied", "cause": "reload", "changed": false, "changes": []}'
	# The log on stderr is the same as without --json.
	log_has "$mapping changed: applied 2 changes: - redirect tcp 80 to 8080; + redirect tcp 80 to 9090"
}

# An apply that fails once watch runs is an error event with the error's
# line: here another watch holds the table with another mapping, which
# this one then tries to put back.
test_json_reports_a_failed_apply_as_an_error_event() {
	local ns other=$TEST_DIR/other.conf
	ns=$(netns_add w)
	write_mapping "$other" 'redirect tcp 80 to 9090'
	start_watch "$ns" "$RULES_DIR/rules.conf" --json
	wait_for "the first event" events_are 1
	mv "$TEST_DIR/watch.log" "$TEST_DIR/first.log"
	mv "$TEST_DIR/watch.out" "$TEST_DIR/first.out"
	start_watch "$ns" "$other" --hold
	! log_has "this kernel cannot hold table inet portredir" ||
		skip_test "this kernel cannot hold tables (Linux 6.9 or later)"
	mv "$TEST_DIR/first.log" "$TEST_DIR/watch.log"
	mv "$TEST_DIR/first.out" "$TEST_DIR/watch.out"
	wait_for "the error event" events_are 2
	grep -q '^{"event":"error","cause":"table","process":"portredir","pid":[0-9]*,"message":"table inet portredir is held by another process (netlink port [0-9]*, a '"'portredir watch --hold'"'?); stop it or let it apply the mapping; nothing was changed"}$' "$TEST_DIR/watch.out"
	log_has "portredir: error: table inet portredir changed by portredir (pid "
	table_of "$ns" | grep -q '80 : 9090'
}

# run_watch NS ARGUMENTS...: watch run in NS until it ends by itself (or
# is stopped after 5 s, which fails the test that expects it to end).
run_watch() {
	local ns=$1
	shift
	run_captured in_ns "$ns" timeout 5 "$PORTREDIR" "$@" watch
}

test_an_invalid_mapping_at_start_ends_watch_with_status_2() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirct tcp 80 to 8080'
	run_watch "$ns" -f "$mapping"
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "stderr" "$mapping:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?
    1 | redirct tcp 80 to 8080
      | ^~~~~~~
portredir: error: $mapping: 1 error; nothing was changed
portredir: error: watch cannot start without a valid mapping in $mapping" "$RUN_ERR"
	expect_eq "stdout" "" "$RUN_OUT"
	expect_no_table "$ns"
}

test_an_unreadable_mapping_at_start_ends_watch_with_status_2() {
	local ns
	ns=$(netns_add w)
	run_watch "$ns" -f "$TEST_DIR/nothere.conf"
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "stderr" "$TEST_DIR/nothere.conf: error: cannot open: No such file or directory
portredir: error: $TEST_DIR/nothere.conf: 1 error; nothing was changed
portredir: error: watch cannot start without a valid mapping in $TEST_DIR/nothere.conf" "$RUN_ERR"
	expect_no_table "$ns"
}

test_a_failed_start_is_one_error_document_with_json() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirct tcp 80 to 8080'
	run_watch "$ns" -f "$mapping" --json
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_json "stdout" '{"error": {"message": "'"$mapping"': 1 error; nothing was changed",
		"diagnostics": [{"file": "'"$mapping"'", "line": 1, "column": 1, "severity": "error",
			"message": "unknown directive '"'redirct'; did you mean 'redirect'"'?"}]}}' "$RUN_OUT"
}

test_without_cap_net_admin_watch_ends_with_status_2() {
	local ns
	ns=$(netns_add w)
	run_captured in_ns "$ns" timeout 5 setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
		"$PORTREDIR" -f "$RULES_DIR/rules.conf" watch
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "stderr" "portredir: error: cannot subscribe to nftables notifications: Operation not permitted; nothing was changed; needs CAP_NET_ADMIN in this network namespace
portredir: error: watch cannot start" "$RUN_ERR"
	expect_no_table "$ns"
}

test_a_fixed_mapping_is_said_to_be_valid_again() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add w)
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	start_watch "$ns" "$mapping"
	write_mapping "$mapping" 'redirct tcp 80 to 9090'
	wait_for "the error" log_has "error: $mapping is not valid; keeping the last valid mapping until it is fixed"
	! log_has "is valid again"
	write_mapping "$mapping" 'redirect tcp 80 to 9090'
	wait_for "the fixed mapping" log_has "portredir: $mapping is valid again; applying it"
	wait_for "the table" table_is "$ns" "$(table_text '80 : 9090' '')"
	log_has "$mapping changed: applied 2 changes: - redirect tcp 80 to 8080; + redirect tcp 80 to 9090"
	# Valid once more is not "again".
	write_mapping "$mapping" 'redirect tcp 80 to 9191'
	wait_for "the next edit" table_is "$ns" "$(table_text '80 : 9191' '')"
	expect_eq "lines saying valid again" 1 "$(log_count "is valid again")"
}

test_interval_is_an_option_of_watch_only() {
	local status=0 output
	output=$("$PORTREDIR" -f "$RULES_DIR" --interval 5 check 2>&1) || status=$?
	expect_eq "exit status" 2 "$status"
	expect_eq "message" "portredir: error: --interval is an option of watch, not of 'check'; see 'portredir help check'" "$output"
}

run_tests
