#!/bin/bash
# --json on every command: one JSON document on stdout, also when the
# command fails ({"error": {"message", "diagnostics"}}), besides the same
# text on stderr as without --json, and the same exit status.
. "$(dirname "$0")/lib.sh"

# expect_json_run NS STATUS EXPECTED ARGUMENTS...: portredir --json
# ARGUMENTS in NS exits STATUS and prints exactly one line on stdout, the
# JSON document EXPECTED (compared as data); its stderr is the one the
# same command prints without --json.
expect_json_run() {
	local ns=$1 status=$2 expected=$3 text_err
	shift 3
	run_captured portredir_in "$ns" "$@"
	text_err=$RUN_ERR
	run_captured portredir_in "$ns" --json "$@"
	expect_eq "exit status of portredir --json $*" "$status" "$RUN_STATUS"
	expect_eq "lines on stdout of portredir --json $*" 1 "$(wc -l <<<"$RUN_OUT")"
	expect_json "stdout of portredir --json $*" "$expected" "$RUN_OUT"
	expect_eq "stderr of portredir --json $* (as without --json)" "$text_err" "$RUN_ERR"
}

# expect_json_run_once: the same for a command that must run only once (it
# changes the kernel): stdout and status only.
expect_json_run_once() {
	local ns=$1 status=$2 expected=$3
	shift 3
	run_captured portredir_in "$ns" --json "$@"
	expect_eq "exit status of portredir --json $*" "$status" "$RUN_STATUS"
	expect_eq "lines on stdout of portredir --json $*" 1 "$(wc -l <<<"$RUN_OUT")"
	expect_json "stdout of portredir --json $*" "$expected" "$RUN_OUT"
}

test_an_invalid_mapping_is_an_error_document_with_its_diagnostics() {
	local ns bad=$TEST_DIR/bad.conf
	netns_make ns host
	write_mapping "$bad" 'redirect tcp 80 to 8080' 'redirect tpc 443 to 8443' 'redirect tcp 8000 to 8001'
	expect_json_run "$ns" 2 '{"error": {"message": "'"$bad"': 1 error",
		"diagnostics": [{"file": "'"$bad"'", "line": 2, "column": 10, "severity": "error",
			"message": "unknown protocol '"'tpc'; did you mean 'tcp'"'?"}]}}' -f "$bad" check
	expect_json_run "$ns" 2 '{"error": {"message": "'"$bad"': 1 error",
		"diagnostics": [{"file": "'"$bad"'", "line": 2, "column": 10, "severity": "error",
			"message": "unknown protocol '"'tpc'; did you mean 'tcp'"'?"}]}}' -f "$bad" diff
	expect_json_run "$ns" 2 '{"error": {"message": "'"$bad"': 1 error; nothing was changed",
		"diagnostics": [{"file": "'"$bad"'", "line": 2, "column": 10, "severity": "error",
			"message": "unknown protocol '"'tpc'; did you mean 'tcp'"'?"}]}}' -f "$bad" apply
	expect_no_table "$ns"
}

# Warnings come with the errors (not with -q), and a problem with a whole
# file has no line or column.
test_the_error_document_lists_warnings_and_whole_file_problems() {
	local ns bad=$TEST_DIR/bad.conf
	netns_make ns host
	write_mapping "$bad" 'redirect tcp 8000 to 8001' 'redirect tcp 443 to 843'
	expect_json_run "$ns" 2 '{"error": {"message": "'"$bad"': 1 error",
		"diagnostics": [
			{"file": "'"$bad"'", "line": 1, "column": 14, "severity": "warning",
			 "message": "port 8000 is at or above 1024, the current net.ipv4.ip_unprivileged_port_start, so any service can bind it directly; this redirect is not needed"},
			{"file": "'"$bad"'", "line": 2, "column": 21, "severity": "error",
			 "message": "target port 843 is below 1024, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 1024 or declare a lower unprivileged_port_start"}]}}' \
		-f "$bad" check
	expect_json_run "$ns" 2 '{"error": {"message": "'"$bad"': 1 error",
		"diagnostics": [{"file": "'"$bad"'", "line": 2, "column": 21, "severity": "error",
			"message": "target port 843 is below 1024, the current net.ipv4.ip_unprivileged_port_start, so a non-root service cannot bind it; use a target of at least 1024 or declare a lower unprivileged_port_start"}]}}' \
		-q -f "$bad" check
	expect_json_run "$ns" 2 '{"error": {"message": "'"$TEST_DIR"'/nothere.conf: 1 error",
		"diagnostics": [{"file": "'"$TEST_DIR"'/nothere.conf", "line": null, "column": null, "severity": "error",
			"message": "cannot open: No such file or directory"}]}}' -f "$TEST_DIR/nothere.conf" check
}

test_usage_errors_are_error_documents() {
	local ns
	netns_make ns host
	expect_json_run "$ns" 2 '{"error": {"message": "unknown command '"'aply'; did you mean 'apply'"'?", "diagnostics": []}}' aply
	expect_json_run "$ns" 2 '{"error": {"message": "--hold is an option of watch, not of '"'check'; see 'portredir help check'"'", "diagnostics": []}}' check --hold
	expect_json_run "$ns" 2 '{"error": {"message": "unknown option '"'--frobnicate'; see 'portredir help'"'", "diagnostics": []}}' --frobnicate show
	expect_json_run "$ns" 2 '{"error": {"message": "-q and -v cannot be used together", "diagnostics": []}}' -q -v diff
}

test_without_cap_net_admin_each_kernel_command_is_an_error_document() {
	local ns command changed
	netns_make ns host
	for command in diff apply show flush; do
		changed=""
		[ "$command" = diff ] || [ "$command" = show ] || changed="; nothing was changed"
		run_captured in_ns "$ns" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
			"$PORTREDIR" --json -f "$RULES_DIR" "$command"
		expect_eq "exit status of $command --json" 2 "$RUN_STATUS"
		expect_json "stdout of $command --json" '{"error": {"message": "cannot read the nftables ruleset (ruleset generation): Operation not permitted'"$changed"'; needs CAP_NET_ADMIN in this network namespace", "diagnostics": []}}' "$RUN_OUT"
	done
	run_captured in_ns "$ns" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
		"$PORTREDIR" --json -f "$RULES_DIR" watch
	expect_eq "exit status of watch --json" 2 "$RUN_STATUS"
	expect_json "stdout of watch --json" '{"error": {"message": "cannot subscribe to nftables notifications: Operation not permitted; nothing was changed; needs CAP_NET_ADMIN in this network namespace", "diagnostics": []}}' "$RUN_OUT"
}

# The rules were applied and the sysctl was not: one document says both,
# the error and what was done.
test_a_partly_done_apply_is_one_document_with_the_error_and_the_changes() {
	local ns mapping=$TEST_DIR/rules.conf
	ns=$(netns_add j)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	run_captured ip netns exec "$ns" unshare -m sh -c \
		'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec "$0" --json -f "$1" apply' \
		"$PORTREDIR" "$mapping"
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "lines on stdout" 1 "$(wc -l <<<"$RUN_OUT")"
	expect_json "stdout" '{"error": {"message": "cannot set net.ipv4.ip_unprivileged_port_start to 1000: Read-only file system; the redirect rules were applied, the sysctl was not (is /proc/sys read-only?)", "diagnostics": []},
		"changed": true, "changes": [
			{"op": "~", "object": "table inet portredir", "action": "created", "reason": "missing"},
			{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null},
			{"op": "-", "unprivileged_port_start": 1024},
			{"op": "+", "unprivileged_port_start": 1000}]}' "$RUN_OUT"
	expect_table "$ns" "$(table_text '80 : 8080' '')"
}

# Each command that succeeds prints exactly one document, without "error".
test_every_command_prints_one_document_when_it_succeeds() {
	local ns
	netns_make ns host
	expect_json_run "$ns" 0 '{"unprivileged_port_start": null, "redirects": [
		{"protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}, {"protocol": "tcp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null},
		{"protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null}]}' -f "$RULES_DIR" check
	expect_json_run_once "$ns" 1 '{"in_sync": false, "changes": [
		{"op": "~", "object": "table inet portredir", "action": "created", "reason": "missing"},
		{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}, {"op": "+", "protocol": "tcp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null},
		{"op": "+", "protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null}]}' -f "$RULES_DIR" diff
	expect_json_run_once "$ns" 0 '{"changed": true, "changes": [
		{"op": "~", "object": "table inet portredir", "action": "created", "reason": "missing"},
		{"op": "+", "protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}, {"op": "+", "protocol": "tcp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null},
		{"op": "+", "protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null}]}' -f "$RULES_DIR" apply
	expect_json_run "$ns" 0 '{"in_sync": true, "changes": []}' -f "$RULES_DIR" diff
	expect_json_run "$ns" 0 '{"unprivileged_port_start": null, "redirects": [
		{"protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null}, {"protocol": "tcp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null},
		{"protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null}]}' show
	expect_json_run_once "$ns" 0 '{"changed": true, "changes": [{"op": "-", "object": "table inet portredir"}]}' flush
	expect_json_run "$ns" 0 '{"version": "0.1.0"}' version
}

run_tests
