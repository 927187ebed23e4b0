#!/bin/bash
# The Ansible example (examples/ansible/) run by Debian's ansible-playbook
# with connection: local inside a namespace of the test's own: the first
# run applies the mapping and reports changes, the second finds nothing to
# change, --check only compares, and an invalid mapping fails with the
# parser's message and changes nothing. The PLAY RECAP is checked exactly.
. "$(dirname "$0")/lib.sh"

PLAYBOOK=$PWD/examples/ansible/playbook.yml
ANSIBLE_DIR=$TEST_DIR/ansible
MAPPING=$TEST_DIR/etc/rules.conf
# Ansible keeps its state, temporary files and configuration in the
# test's directory; the role's scratch file goes to its TMPDIR.
export ANSIBLE_CONFIG=$ANSIBLE_DIR/ansible.cfg ANSIBLE_HOME=$ANSIBLE_DIR/home \
	ANSIBLE_LOCAL_TEMP=$ANSIBLE_DIR/home/tmp ANSIBLE_REMOTE_TEMP=$ANSIBLE_DIR/home/tmp \
	ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 TMPDIR=$ANSIBLE_DIR/tmp

# The first run's variables: the mapping of the role's defaults, and the
# sysctl declared. Later runs change them with more -e options.
setup_ansible() {
	command -v ansible-playbook >/dev/null ||
		skip_test "ansible-playbook is not installed (tests/install-deps.sh installs ansible-core)"
	mkdir -p "$ANSIBLE_DIR/tmp" "$TEST_DIR/etc"
	rm -f "$MAPPING"
	: >"$ANSIBLE_CONFIG"
	printf '%s\n' '[portredir]' \
		'localhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3' \
		>"$ANSIBLE_DIR/inventory"
	# As root already: no become (no sudo on a minimal host).
	printf '%s\n' 'ansible_become: false' "portredir_command: $PORTREDIR" \
		"portredir_rules_file: $MAPPING" 'portredir_unprivileged_port_start: 1000' \
		>"$ANSIBLE_DIR/vars.yml"
}

# playbook NS ARGUMENTS...: runs the playbook in NS; sets RUN_OUT,
# RUN_STATUS and RECAP (the host's PLAY RECAP line, spaces squeezed).
playbook() {
	local ns=$1
	shift
	run_captured in_ns "$ns" ansible-playbook -i "$ANSIBLE_DIR/inventory" \
		-e "@$ANSIBLE_DIR/vars.yml" "$@" "$PLAYBOOK"
	RECAP=$(sed -n 's/^\(localhost\) *: */\1: /p' <<<"$RUN_OUT" | tr -s ' ' | sed 's/ $//')
}

# expect_run WHAT STATUS RECAP: the last run's exit status and recap.
expect_run() {
	if [ "$RUN_STATUS" != "$2" ] || [ "$RECAP" != "$3" ]; then
		diag "$1: expected exit status $2, got $RUN_STATUS"
		expect_eq "$1: PLAY RECAP" "$3" "$RECAP" || true
		diag "ansible-playbook printed:"
		printf '%s\n' "$RUN_OUT" "$RUN_ERR" | sed 's/^/#   /' >&2
		return 1
	fi
}

# What the template makes of the first run's variables.
RENDERED='# Ansible managed
# portredir mapping: see portredir.conf(5).
unprivileged_port_start 1000
redirect tcp 80 to 8080
redirect tcp,udp 443 to 8443'

# A kernel and a host file as the first run leaves them, made without
# Ansible, for the tests of later runs.
applied_as_by_a_first_run() {
	printf '%s\n' "$RENDERED" >"$MAPPING"
	chmod 0644 "$MAPPING"
	portredir_in "$1" -q -f "$MAPPING" apply
}

port_start_of() {
	ip netns exec "$1" cat /proc/sys/net/ipv4/ip_unprivileged_port_start
}

no_scratch_file_is_left() {
	local left
	left=$(ls -A "$ANSIBLE_DIR/tmp")
	expect_eq "files left in the role's TMPDIR" "" "$left"
}

test_the_first_run_applies_the_mapping_and_the_second_changes_nothing() {
	local ns ruleset
	setup_ansible
	ns=$(netns_add a)
	playbook "$ns"
	expect_run "first run" 0 \
		'localhost: ok=6 changed=3 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0'
	expect_eq "the installed mapping" "$RENDERED" "$(cat "$MAPPING")"
	expect_table "$ns" "$EXPECTED_TABLE"
	expect_eq "sysctl" 1000 "$(port_start_of "$ns")"
	start_listener "$ns" "$LISTENER_USER" tcp 8080 web
	expect_answer "$ns" tcp 127.0.0.1 80 web
	ruleset=$(in_ns "$ns" nft list ruleset)

	playbook "$ns"
	expect_run "second run" 0 \
		'localhost: ok=5 changed=0 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0'
	expect_eq "the ruleset after the second run" "$ruleset" "$(in_ns "$ns" nft list ruleset)"
	no_scratch_file_is_left
}

test_check_mode_compares_and_changes_nothing() {
	local ns ruleset
	setup_ansible
	ns=$(netns_add c)
	applied_as_by_a_first_run "$ns"
	ruleset=$(in_ns "$ns" nft list ruleset)
	playbook "$ns" --check -e '{"portredir_redirects": [{"protocols": ["tcp"], "port": 80, "target": 9090}]}'
	# The diff (it only reads) and the file's would-be change; no apply.
	expect_run "run with --check" 0 \
		'localhost: ok=5 changed=2 unreachable=0 failed=0 skipped=2 rescued=0 ignored=0'
	expect_eq "the ruleset after --check" "$ruleset" "$(in_ns "$ns" nft list ruleset)"
	expect_eq "the mapping after --check" "$RENDERED" "$(cat "$MAPPING")"
	no_scratch_file_is_left
}

# The parser's first line from the failed diff task's result, with the
# scratch file's random part as XXXX.
failed_diff_message() {
	sed -n 's/^fatal: \[localhost\]: FAILED! => //p' <<<"$RUN_OUT" |
		"$PYTHON" -c 'import json, sys; print(json.loads(sys.stdin.read())["stderr_lines"][0])' |
		sed "s|^$ANSIBLE_DIR/tmp/portredir-mapping\.[A-Za-z0-9_]*\.conf:|SCRATCH:|"
}

test_an_invalid_mapping_fails_with_the_parser_message_and_changes_nothing() {
	local ns ruleset
	setup_ansible
	ns=$(netns_add i)
	applied_as_by_a_first_run "$ns"
	ruleset=$(in_ns "$ns" nft list ruleset)
	playbook "$ns" -e '{"portredir_redirects": [{"protocols": ["tpc"], "port": 80, "target": 9090}]}'
	expect_run "run with an invalid mapping" 2 \
		'localhost: ok=3 changed=0 unreachable=0 failed=1 skipped=0 rescued=0 ignored=0'
	expect_eq "the failed task's message" \
		"SCRATCH:4:10: error: unknown protocol 'tpc'; did you mean 'tcp'?" "$(failed_diff_message)"
	expect_eq "the ruleset after the failed run" "$ruleset" "$(in_ns "$ns" nft list ruleset)"
	expect_eq "sysctl" 1000 "$(port_start_of "$ns")"
	expect_eq "the mapping after the failed run" "$RENDERED" "$(cat "$MAPPING")"
	no_scratch_file_is_left
}

run_tests
