#!/bin/bash
# Kernel faults, made by the test-only build (make FAULTS=1, in
# build/faults/): a batch the kernel refuses part-way, a kernel without
# NAT, dump replies lost, a receive interrupted, a batch larger than the
# send buffer. Each must change nothing, or recover, and say so in one line.
. "$(dirname "$0")/lib.sh"

FAULTY=${FAULTY:-$(dirname "$PORTREDIR")/faults/portredir}

# faulty NS FAULTS ARGS...: the fault-injecting build in NS; sets RUN_OUT,
# RUN_ERR and RUN_STATUS.
faulty() {
	local ns=$1 faults=$2
	shift 2
	run_captured env PORTREDIR_FAULTS="$faults" ip netns exec "$ns" "$FAULTY" "$@"
}

# first_error: the first line of RUN_ERR that is not the fault's own report.
first_error() {
	grep -v '^portredir: test fault injected: ' <<<"$RUN_ERR" | head -n 1
}

test_a_map_element_refused_mid_batch_changes_nothing_and_names_the_map() {
	local ns mapping=$TEST_DIR/more.conf
	ns=$(netns_add f)
	in_ns "$ns" "$PORTREDIR" -q -f "$RULES_DIR/rules.conf" apply
	# The batch deletes udp 443 (a valid message) before adding the
	# tcp elements, the last of which the kernel refuses.
	write_mapping "$mapping" 'redirect tcp 80 to 8080' 'redirect tcp 443 to 8443' 'redirect tcp 22 to 2222'
	ruleset_save "$ns" "$TEST_DIR/before"
	faulty "$ns" bad-element -f "$mapping" apply
	expect_eq "exit status" 2 "$RUN_STATUS"
	grep -qx 'portredir: test fault injected: bad-element' <<<"$RUN_ERR"
	expect_eq "error" "portredir: error: the kernel refused the change (map tcp_redirects (adding elements 22 to 22)): Invalid argument (kernel: rejected element 1 (key 22) of NFTA_SET_ELEM_LIST_ELEMENTS in NFT_MSG_NEWSETELEM); nothing was changed" "$(first_error)"
	expect_eq "stdout" "" "$RUN_OUT"
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "nft -a list ruleset" "$TEST_DIR/before" "$TEST_DIR/after"
}

test_a_refused_batch_creating_the_table_leaves_no_table() {
	local ns
	ns=$(netns_add f)
	faulty "$ns" bad-element -f "$RULES_DIR/rules.conf" apply
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "error" "portredir: error: the kernel refused the change (map tcp_redirects (adding elements 80 to 443)): Invalid argument (kernel: rejected element 2 (key 443) of NFTA_SET_ELEM_LIST_ELEMENTS in NFT_MSG_NEWSETELEM); nothing was changed" "$(first_error)"
	expect_eq "ruleset" "" "$(in_ns "$ns" nft list ruleset)"
}

test_a_kernel_without_nat_is_reported_clearly() {
	local ns
	ns=$(netns_add f)
	faulty "$ns" missing-nat -f "$RULES_DIR/rules.conf" apply
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "error" "portredir: error: the kernel refused the change (chain prerouting): No such file or directory (kernel: rejected NFTA_CHAIN_TYPE in NFT_MSG_NEWCHAIN); nothing was changed; the kernel lacks NAT support for nf_tables (modules nft_chain_nat, nft_fib_inet, nft_redir)" "$(first_error)"
	expect_eq "ruleset" "" "$(in_ns "$ns" nft list ruleset)"
}

test_lost_dump_replies_make_it_read_again() {
	local ns
	ns=$(netns_add f)
	in_ns "$ns" "$PORTREDIR" -q -f "$RULES_DIR/rules.conf" apply
	faulty "$ns" dump-enobufs -v -f "$RULES_DIR/rules.conf" diff
	expect_eq "exit status" 0 "$RUN_STATUS"
	grep -qx 'portredir: test fault injected: dump-enobufs' <<<"$RUN_ERR"
	grep -q '; 1 reads repeated$' <<<"$RUN_ERR"
	faulty "$ns" dump-enobufs -f "$RULES_DIR/examples/dns.conf" apply
	expect_eq "exit status" 0 "$RUN_STATUS"
	expect_table_objects "$ns" "$(table_text '53 : 5353' '53 : 5353')"
}

test_an_interrupted_receive_is_retried() {
	local ns
	ns=$(netns_add f)
	faulty "$ns" receive-eintr -f "$RULES_DIR/rules.conf" apply
	expect_eq "exit status" 0 "$RUN_STATUS"
	grep -qx 'portredir: test fault injected: receive-eintr' <<<"$RUN_ERR"
	expect_table "$ns" "$EXPECTED_TABLE"
}

test_a_batch_larger_than_the_send_buffer_is_refused_whole() {
	local ns mapping=$TEST_DIR/large.conf
	ns=$(netns_add f)
	in_ns "$ns" "$PORTREDIR" -q -f "$RULES_DIR/rules.conf" apply
	"$PYTHON" -c 'for p in range(2000, 22000): print("redirect tcp,udp %d to %d" % (p, p + 30000))' >"$mapping"
	ruleset_save "$ns" "$TEST_DIR/before"
	faulty "$ns" small-send-buffer -q -f "$mapping" apply
	expect_eq "exit status" 2 "$RUN_STATUS"
	first_error | grep -qx 'portredir: error: the kernel refused the change (batch of [0-9]* messages, [0-9]* bytes): Message too long; nothing was changed; the batch is larger than the socket buffers allow; raise net.core.wmem_max'
	ruleset_save "$ns" "$TEST_DIR/after"
	expect_same_file "nft -a list ruleset" "$TEST_DIR/before" "$TEST_DIR/after"
}

test_the_installed_build_has_no_fault_injection() {
	local ns
	ns=$(netns_add f)
	run_captured env PORTREDIR_FAULTS=missing-nat,bad-element ip netns exec "$ns" "$PORTREDIR" -f "$RULES_DIR/rules.conf" apply
	expect_eq "exit status" 0 "$RUN_STATUS"
	expect_eq "stderr" "" "$RUN_ERR"
	expect_table "$ns" "$EXPECTED_TABLE"
}

run_tests
