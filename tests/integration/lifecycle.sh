#!/bin/bash
# show, flush, and the failures that must leave the kernel alone: a user
# without CAP_NET_ADMIN and an invalid mapping file.
. "$(dirname "$0")/lib.sh"

SHIPPED_MAPPING='redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443'

test_show_prints_the_applied_mapping() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_show "$ns" "$SHIPPED_MAPPING"
}

# show > f; apply -f f changes nothing, even when the kernel holds mappings
# the file does not (here added with nft), and f is in normalized form.
test_show_output_is_a_mapping_that_changes_nothing() {
	local ns shown=$TEST_DIR/shown.conf
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft add element inet portredir udp_redirects '{ 53 : 5353 }'
	in_ns "$ns" nft add element inet portredir tcp_redirects '{ 22 : 2222 }'
	expect_show "$ns" 'redirect tcp 22 to 2222
redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 53 to 5353
redirect udp 443 to 8443'
	printf '%s\n' "$RUN_OUT" >"$shown"
	chmod 0644 "$shown"
	expect_portredir "$ns" 0 "$(cat "$shown")" -f "$shown" check
	ruleset_save "$ns" "$TEST_DIR/before"
	expect_portredir "$ns" 0 "" -f "$shown" apply
	expect_portredir "$ns" 0 "" -f "$shown" diff
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset after apply of show's output" "$TEST_DIR/before" "$TEST_DIR/after"
}

# No table and an empty one must not look the same: show says which on
# stderr (not with -q), prints the empty mapping, and exits 0.
test_show_without_a_table_says_so_and_prints_an_empty_mapping() {
	local ns
	netns_make ns host
	run_captured portredir_in "$ns" show
	expect_eq "exit status of show" 0 "$RUN_STATUS"
	expect_eq "stdout of show" "" "$RUN_OUT"
	expect_eq "stderr of show" "portredir: no table inet portredir in this network namespace: no redirects (portredir apply creates it)" "$RUN_ERR"
	expect_portredir "$ns" 0 "" -q show
	run_captured portredir_in "$ns" --json show
	expect_eq "exit status of show --json" 0 "$RUN_STATUS"
	expect_json "show --json" '{"unprivileged_port_start": null, "redirects": []}' "$RUN_OUT"
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	portredir_in "$ns" -q -f "$RULES_DIR" flush
	run_captured portredir_in "$ns" show
	expect_eq "stderr of show after flush" "portredir: no table inet portredir in this network namespace: no redirects (portredir apply creates it)" "$RUN_ERR"
}

# show prints unprivileged_port_start only when portredir manages it (the
# table records the value it replaced): otherwise `show > f; apply -f f`
# would make portredir take the sysctl over.
test_show_prints_the_sysctl_only_when_portredir_manages_it() {
	local ns shown=$TEST_DIR/shown.conf declared=$TEST_DIR/declared.conf
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_portredir "$ns" 0 "$SHIPPED_MAPPING" show
	portredir_in "$ns" show >"$shown"
	chmod 0644 "$shown"
	expect_portredir "$ns" 0 "" -f "$shown" apply
	in_ns "$ns" sysctl -qw net.ipv4.ip_unprivileged_port_start=2000
	expect_portredir "$ns" 0 "" -f "$shown" diff
	expect_portredir "$ns" 0 "- table inet portredir" flush
	expect_eq "the sysctl after flush" 2000 "$(in_ns "$ns" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
	write_mapping "$declared" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$declared" apply
	expect_portredir "$ns" 0 'unprivileged_port_start 1000
redirect tcp 80 to 8080' show
}

test_flush_twice_removes_only_the_table() {
	local ns
	netns_make ns host
	in_ns "$ns" nft add table ip filter
	in_ns "$ns" nft add chain ip filter input '{ type filter hook input priority 0; policy accept; }'
	in_ns "$ns" nft add rule ip filter input tcp dport 22 accept
	ruleset_save "$ns" "$TEST_DIR/initial"
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_table "$ns" "$EXPECTED_TABLE"
	run_captured portredir_in "$ns" -f "$RULES_DIR" flush
	expect_eq "exit status of the first flush" 0 "$RUN_STATUS"
	expect_eq "stderr of the first flush" "" "$RUN_ERR"
	expect_no_table "$ns"
	run_captured portredir_in "$ns" -f "$RULES_DIR" flush
	expect_eq "exit status of the second flush" 0 "$RUN_STATUS"
	expect_eq "stderr of the second flush" "" "$RUN_ERR"
	expect_no_table "$ns"
	ruleset_save "$ns" "$TEST_DIR/final"
	expect_same_file "ruleset after apply and two flushes" "$TEST_DIR/initial" "$TEST_DIR/final"
}

test_flush_without_a_table_succeeds() {
	local ns
	netns_make ns host
	run_captured portredir_in "$ns" -f "$RULES_DIR" flush
	expect_eq "exit status of flush" 0 "$RUN_STATUS"
	expect_eq "stderr of flush" "" "$RUN_ERR"
	expect_eq "ruleset after flush" "" "$(in_ns "$ns" nft list ruleset)"
}

test_after_flush_diff_wants_the_whole_table() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	portredir_in "$ns" -q -f "$RULES_DIR" flush
	expect_portredir "$ns" 1 "$CREATE_ALL_LINES" -f "$RULES_DIR" diff
	expect_portredir "$ns" 0 "$CREATE_ALL_LINES" -f "$RULES_DIR" apply
	expect_table "$ns" "$EXPECTED_TABLE"
}

# expect_needs_cap_net_admin NS COMMAND: as a user without capabilities,
# COMMAND exits 2, prints nothing on stdout, and the first line of stderr
# is portredir's error naming CAP_NET_ADMIN; the ruleset does not change.
expect_needs_cap_net_admin() {
	local ns=$1 command=$2 first
	ruleset_save "$ns" "$TEST_DIR/before"
	run_captured in_ns_as "$ns" "$LISTENER_USER" "$PORTREDIR" -f "$RULES_DIR" "$command"
	first=${RUN_ERR%%$'\n'*}
	expect_eq "exit status of unprivileged $command" 2 "$RUN_STATUS" || return 1
	expect_eq "stdout of unprivileged $command" "" "$RUN_OUT" || return 1
	case $first in
	"portredir: error: "*CAP_NET_ADMIN*) ;;
	*)
		diag "unprivileged $command: the first line of stderr does not name CAP_NET_ADMIN:"
		printf '%s\n' "$RUN_ERR" | sed 's/^/#   /' >&2
		return 1
		;;
	esac
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset after unprivileged $command" "$TEST_DIR/before" "$TEST_DIR/after"
}

test_unprivileged_user_is_told_cap_net_admin_is_needed() {
	local ns command
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft insert rule inet portredir output counter
	for command in apply diff show flush; do
		expect_needs_cap_net_admin "$ns" "$command"
	done
}

test_unprivileged_apply_does_not_create_the_table() {
	local ns
	netns_make ns host
	expect_needs_cap_net_admin "$ns" apply
	expect_no_table "$ns"
}

# check needs no privileges (it never opens a netlink socket).
test_unprivileged_check_works() {
	local ns
	netns_make ns host
	run_captured in_ns_as "$ns" "$LISTENER_USER" "$PORTREDIR" -f "$RULES_DIR" check
	expect_eq "exit status of unprivileged check" 0 "$RUN_STATUS"
	expect_eq "stdout of unprivileged check" "$SHIPPED_MAPPING" "$RUN_OUT"
	expect_eq "stderr of unprivileged check" "" "$RUN_ERR"
}

# An invalid file: apply and diff exit 2 with the parser's diagnostics
# (the same as check's), and nothing reaches the kernel, not even the valid
# first line.
# The errors as a compiler gives them, with the source line and a caret;
# check and diff, which never change anything, do not say that nothing was
# changed, apply does.
test_invalid_mapping_changes_nothing() {
	local ns bad=$TEST_DIR/bad.conf command errors
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	write_mapping "$bad" 'redirect tcp 80 to 9090' 'redirect tcp 443 too 8443'
	errors="$bad:2:18: error: unknown word 'too' after the port; did you mean 'to'?
    2 | redirect tcp 443 too 8443
      |                  ^~~
portredir: error: $bad: 1 error"
	for command in check diff apply; do
		[ "$command" != apply ] || errors="$errors; nothing was changed"
		ruleset_save "$ns" "$TEST_DIR/before"
		run_captured portredir_in "$ns" -f "$bad" "$command"
		expect_eq "exit status of $command" 2 "$RUN_STATUS"
		expect_eq "stdout of $command" "" "$RUN_OUT"
		expect_eq "stderr of $command" "$errors" "$RUN_ERR"
		ruleset_save "$ns" "$TEST_DIR/after"
		expect_same_file "ruleset after $command of an invalid file" "$TEST_DIR/before" "$TEST_DIR/after"
	done
	expect_table "$ns" "$EXPECTED_TABLE"
}

# A semantic error (a target only root could bind) is refused the same way.
test_unbindable_target_changes_nothing() {
	local ns bad=$TEST_DIR/privileged-target.conf
	netns_make ns host
	write_mapping "$bad" 'redirect tcp 80 to 8080' 'redirect tcp 443 to 843'
	ruleset_save "$ns" "$TEST_DIR/before"
	run_captured portredir_in "$ns" -f "$bad" apply
	expect_eq "exit status of apply" 2 "$RUN_STATUS"
	expect_eq "stdout of apply" "" "$RUN_OUT"
	grep -Eq "^$bad:2:[0-9]+: error: ." <<<"$RUN_ERR" || {
		diag "apply does not report $bad:2:COL: error: ...:"
		printf '%s\n' "$RUN_ERR" | sed 's/^/#   /' >&2
		false
	}
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset after apply of an invalid file" "$TEST_DIR/before" "$TEST_DIR/after"
	expect_no_table "$ns"
}

# flush --json prints one document like apply --json: what it did, in the
# order it did it (the sysctl restored, then the table deleted), and the
# same shape with nothing to do.
test_flush_json_prints_the_changes_made_as_one_document() {
	local ns mapping=$TEST_DIR/start.conf before
	netns_make ns host
	before=$(in_ns "$ns" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	run_captured portredir_in "$ns" --json flush
	expect_eq "exit status of flush --json" 0 "$RUN_STATUS"
	expect_eq "stderr of flush --json" "" "$RUN_ERR"
	expect_eq "flush --json" '{"changed":true,"changes":[{"op":"-","unprivileged_port_start":1000},{"op":"+","unprivileged_port_start":'"$before"'},{"op":"-","object":"table inet portredir"}]}' "$RUN_OUT"
	"$PYTHON" -c '
import json, sys
document = json.load(sys.stdin)
assert document["changed"] is True, document
assert document["changes"][-1] == {"op": "-", "object": "table inet portredir"}, document
' <<<"$RUN_OUT"
	expect_no_table "$ns"
	expect_eq "the sysctl after flush" "$before" "$(in_ns "$ns" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
	run_captured portredir_in "$ns" --json flush
	expect_eq "exit status of the second flush --json" 0 "$RUN_STATUS"
	expect_eq "stderr of the second flush --json" "" "$RUN_ERR"
	expect_json "the second flush --json" '{"changed": false, "changes": []}' "$RUN_OUT"
}

# Without --json, flush says the same in change lines.
test_flush_prints_its_change_lines() {
	local ns mapping=$TEST_DIR/start.conf before
	netns_make ns host
	before=$(in_ns "$ns" cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	expect_portredir "$ns" 0 "- unprivileged_port_start 1000
+ unprivileged_port_start $before
- table inet portredir" flush
	expect_portredir "$ns" 0 "" flush
}

# expect_usage_error NS MESSAGE ARGUMENTS...: portredir in NS exits 2 with
# nothing on stdout and exactly one line on stderr, "portredir: error:
# MESSAGE", and leaves the ruleset alone.
expect_usage_error() {
	local ns=$1 message=$2
	shift 2
	ruleset_save "$ns" "$TEST_DIR/before"
	run_captured portredir_in "$ns" "$@"
	expect_eq "exit status of portredir $*" 2 "$RUN_STATUS"
	expect_eq "stdout of portredir $*" "" "$RUN_OUT"
	expect_eq "stderr of portredir $*" "portredir: error: $message" "$RUN_ERR"
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset after portredir $*" "$TEST_DIR/before" "$TEST_DIR/after"
}

# An option the command does not implement is refused, before anything
# is done; the message names the commands that take it.
test_options_a_command_does_not_take_are_refused() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_usage_error "$ns" "--hold is an option of watch, not of 'check'; see 'portredir help check'" \
		-f "$RULES_DIR" check --hold
	expect_usage_error "$ns" "--dry-run is an option of apply, not of 'show'; see 'portredir help show'" show --dry-run
	expect_usage_error "$ns" "--interval is an option of watch, not of 'flush'; see 'portredir help flush'" \
		flush --interval 5
	expect_usage_error "$ns" "--hold is an option of watch, not of 'apply'; see 'portredir help apply'" \
		-f "$RULES_DIR" --hold apply
	expect_table "$ns" "$EXPECTED_TABLE"
}

test_quiet_and_verbose_together_are_refused() {
	local ns
	netns_make ns host
	expect_usage_error "$ns" "-q and -v cannot be used together" -q -v -f "$RULES_DIR" apply
	expect_usage_error "$ns" "-q and -v cannot be used together" --verbose flush --quiet
	expect_no_table "$ns"
}

# apply --dry-run is diff: the same output and exit status, in sync or not.
test_apply_dry_run_behaves_as_diff() {
	local ns
	netns_make ns host
	expect_portredir "$ns" 1 "$CREATE_ALL_LINES" -f "$RULES_DIR" apply --dry-run
	expect_no_table "$ns"
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	expect_portredir "$ns" 0 "" -f "$RULES_DIR" --dry-run apply
	expect_portredir "$ns" 0 "" -f "$RULES_DIR" diff
}

run_tests
