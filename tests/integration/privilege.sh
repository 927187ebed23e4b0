#!/bin/bash
# Least privilege: check needs nothing; the kernel commands need
# CAP_NET_ADMIN and nothing else, not even for the sysctl (Linux gives
# CAP_NET_ADMIN over a network namespace root's access to its net.*
# sysctls); and in a user namespace (unshare -Urn) portredir manages that
# namespace's own table and sysctl.
. "$(dirname "$0")/lib.sh"

SHIPPED_MAPPING='redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443'

# as_net_admin NS COMMAND...: COMMAND in NS as $LISTENER_USER with
# CAP_NET_ADMIN as its only capability (ambient, so that it survives exec).
as_net_admin() {
	local ns=$1
	shift
	in_ns "$ns" setpriv --reuid="$LISTENER_USER" --regid="$(id -g "$LISTENER_USER")" --clear-groups \
		--inh-caps=-all,+net_admin --ambient-caps=+net_admin --bounding-set=-all,+net_admin "$@"
}

# expect_run WHAT STATUS STDOUT COMMAND...: COMMAND exits STATUS, prints
# STDOUT and nothing on stderr.
expect_run() {
	local what=$1 status=$2 out=$3
	shift 3
	run_captured "$@"
	expect_eq "exit status of $what" "$status" "$RUN_STATUS"
	expect_eq "stdout of $what" "$out" "$RUN_OUT"
	expect_eq "stderr of $what" "" "$RUN_ERR"
}

sysctl_of() {
	in_ns "$1" cat /proc/sys/net/ipv4/ip_unprivileged_port_start
}

# A user's own file: without root, the running user is trusted beside
# root; one that others may write is refused to it as to root
# (portredir.conf(5), OWNERSHIP).
test_check_works_as_any_user_without_capabilities() {
	local ns mapping=$TEST_DIR/users.conf
	netns_make ns host
	write_mapping "$mapping" 'redirect tcp,udp 443 to 8443' 'redirect tcp 80 to 8080'
	chown "$LISTENER_USER" "$mapping"
	expect_run "check as $LISTENER_USER" 0 "$SHIPPED_MAPPING" in_ns_as "$ns" "$LISTENER_USER" "$PORTREDIR" -f "$mapping" check
	chmod 0666 "$mapping"
	run_captured in_ns_as "$ns" "$LISTENER_USER" "$PORTREDIR" -f "$mapping" check
	expect_eq "exit status of check of a file others may write" 2 "$RUN_STATUS"
	expect_eq "its first line on stderr" "$mapping: error: is writable by group or others (mode 0666); run 'chmod go-w $mapping'" \
		"$(head -n 1 <<<"$RUN_ERR")"
}

test_apply_diff_show_flush_need_only_cap_net_admin() {
	local ns
	netns_make ns host
	expect_run "apply with CAP_NET_ADMIN only" 0 "$CREATE_ALL_LINES" as_net_admin "$ns" "$PORTREDIR" -f "$RULES_DIR" apply
	expect_table "$ns" "$EXPECTED_TABLE"
	expect_run "diff with CAP_NET_ADMIN only" 0 "" as_net_admin "$ns" "$PORTREDIR" -f "$RULES_DIR" diff
	expect_run "show with CAP_NET_ADMIN only" 0 "$SHIPPED_MAPPING" as_net_admin "$ns" "$PORTREDIR" show
	expect_run "flush with CAP_NET_ADMIN only" 0 "- table inet portredir" as_net_admin "$ns" "$PORTREDIR" flush
	expect_no_table "$ns"
}

test_cap_net_admin_alone_keeps_and_restores_the_sysctl() {
	local ns mapping=$TEST_DIR/start.conf
	netns_make ns host
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	expect_eq "sysctl before" 1024 "$(sysctl_of "$ns")"
	expect_run "apply with CAP_NET_ADMIN only" 0 '~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080
- unprivileged_port_start 1024
+ unprivileged_port_start 1000' as_net_admin "$ns" "$PORTREDIR" -f "$mapping" apply
	expect_eq "sysctl after apply" 1000 "$(sysctl_of "$ns")"
	expect_run "flush with CAP_NET_ADMIN only" 0 '- unprivileged_port_start 1000
+ unprivileged_port_start 1024
- table inet portredir' as_net_admin "$ns" "$PORTREDIR" flush
	expect_eq "sysctl after flush" 1024 "$(sysctl_of "$ns")"
}

# Root is not enough: without CAP_NET_ADMIN, each kernel command fails in
# one line that says which capability is missing, and changes nothing.
test_root_without_cap_net_admin_is_told_it_is_needed() {
	local ns command changed
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	ruleset_save "$ns" "$TEST_DIR/before"
	for command in apply diff show flush; do
		run_captured in_ns "$ns" setpriv --inh-caps=-net_admin --bounding-set=-net_admin \
			"$PORTREDIR" -f "$RULES_DIR" "$command"
		changed=""
		[ "$command" = diff ] || [ "$command" = show ] || changed="; nothing was changed"
		expect_eq "exit status of $command without CAP_NET_ADMIN" 2 "$RUN_STATUS"
		expect_eq "stderr of $command without CAP_NET_ADMIN" \
			"portredir: error: cannot read the nftables ruleset (ruleset generation): Operation not permitted$changed; needs CAP_NET_ADMIN in this network namespace" \
			"$RUN_ERR"
	done
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset" "$TEST_DIR/before" "$TEST_DIR/after"
}

# in_user_namespace SCRIPT ARGUMENTS...: SCRIPT run by bash as
# $LISTENER_USER, without any capability, in a new user and network
# namespace where it is root (unshare -Urn).
in_user_namespace() {
	local script=$1
	shift
	setpriv --reuid="$LISTENER_USER" --regid="$(id -g "$LISTENER_USER")" --clear-groups \
		--inh-caps=-all --bounding-set=-all unshare -Urn bash -c "ip link set lo up; $script" user-namespace "$@"
}

# What the script in the user namespace prints of each step.
USER_NAMESPACE_STEPS='
portredir=$1 mapping=$2
set -u
"$portredir" -f "$mapping" apply; echo "apply: $?"
echo "sysctl: $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
nft list table inet portredir >/dev/null && echo "table: listed by nft"
"$portredir" -f "$mapping" diff; echo "diff: $?"
"$portredir" show; echo "show: $?"
"$portredir" flush; echo "flush: $?"
echo "sysctl: $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
nft list table inet portredir >/dev/null 2>&1 || echo "table: gone"
'

test_in_a_user_namespace_portredir_manages_its_own_table_and_sysctl() {
	local mapping=$TEST_DIR/namespace.conf
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080' 'redirect tcp,udp 443 to 8443'
	# Its owner is root in the namespace.
	chown "$LISTENER_USER" "$mapping"
	ruleset_save_host "$TEST_DIR/host-before"
	expect_run "the steps in a user namespace" 0 '~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080
+ redirect tcp 443 to 8443
+ redirect udp 443 to 8443
- unprivileged_port_start 1024
+ unprivileged_port_start 1000
apply: 0
sysctl: 1000
table: listed by nft
diff: 0
unprivileged_port_start 1000
redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443
show: 0
- unprivileged_port_start 1000
+ unprivileged_port_start 1024
- table inet portredir
flush: 0
sysctl: 1024
table: gone' in_user_namespace "$USER_NAMESPACE_STEPS" "$PORTREDIR" "$mapping"
	ruleset_save_host "$TEST_DIR/host-after"
	expect_same_file "the host's ruleset and sysctl" "$TEST_DIR/host-before" "$TEST_DIR/host-after"
}

# The initial namespace's state, which a user namespace must not touch.
ruleset_save_host() {
	{
		nft -a list ruleset
		sysctl net.ipv4.ip_unprivileged_port_start
	} >"$1"
}

# A file of the host's root is owned by no one the namespace knows: it
# shows as the overflow uid, and root of the namespace refuses it.
test_in_a_user_namespace_files_of_unmapped_owners_are_refused() {
	local mapping=$TEST_DIR/hosts.conf
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	run_captured in_user_namespace '"$1" -f "$2" check' "$PORTREDIR" "$mapping"
	expect_eq "exit status of check" 2 "$RUN_STATUS"
	expect_eq "first line on stderr" "$mapping: error: is owned by uid 65534, not root; run 'chown root $mapping'" \
		"$(head -n 1 <<<"$RUN_ERR")"
}

run_tests
