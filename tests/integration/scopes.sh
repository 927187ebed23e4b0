#!/bin/bash
# Scopes, ranges and names with real traffic: redirects scoped to one of
# the host's addresses, to the interface traffic arrives on, to one
# family; port ranges and service names; the most specific redirect wins.
# Namespaces "host" (veth0: 198.18.0.1, 198.18.0.3, 2001:db8::1; veth1:
# 198.18.1.1, 2001:db8:1::1), "peer" on veth0 (198.18.0.2, 2001:db8::2)
# and "peer2" on veth1 (198.18.1.2, 2001:db8:1::2). Each peer reaches the
# host's addresses on the other link through the host (it does not
# forward), so that the interface, not the address, tells them apart.
. "$(dirname "$0")/lib.sh"

topology_two_links() {
	topology_host_peer
	ip -n "$HOST" addr add 198.18.0.3/24 dev veth0
	netns_make PEER2 peer2
	ip -n "$HOST" link add veth1 type veth peer name veth1 netns "$PEER2"
	ip -n "$HOST" addr add 198.18.1.1/24 dev veth1
	ip -n "$HOST" addr add 2001:db8:1::1/64 dev veth1 nodad
	ip -n "$PEER2" addr add 198.18.1.2/24 dev veth1
	ip -n "$PEER2" addr add 2001:db8:1::2/64 dev veth1 nodad
	ip -n "$HOST" link set veth1 up
	ip -n "$PEER2" link set veth1 up
	ip -n "$PEER" route add 198.18.1.0/24 via 198.18.0.1
	ip -n "$PEER2" route add 198.18.0.0/24 via 198.18.1.1
	wait_for "veth1 up in both namespaces" second_link_is_up
}

second_link_is_up() {
	ip -n "$HOST" -o link show veth1 | grep -q 'state UP' &&
		ip -n "$PEER2" -o link show veth1 | grep -q 'state UP'
}

# mapping LINE...: the mapping file of the test, $MAPPING.
mapping() {
	MAPPING=$TEST_DIR/scopes.conf
	write_mapping "$MAPPING" "$@"
}

# Quiet: ports at or above 1024 are warned of (they need no redirect).
apply_mapping() {
	expect_portredir "$HOST" 0 "" -q -f "$MAPPING" apply
	expect_portredir "$HOST" 0 "" -q -f "$MAPPING" diff
}

test_each_address_reaches_its_own_target() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 first-address
	start_listener "$HOST" "$LISTENER_USER" tcp 8082 second-address
	mapping 'redirect tcp 80 to 8081 on 198.18.0.1' 'redirect tcp 80 to 8082 on 198.18.0.3'
	apply_mapping
	expect_answer "$PEER" tcp 198.18.0.1 80 first-address
	expect_answer "$PEER" tcp 198.18.0.3 80 second-address
	expect_answer "$PEER2" tcp 198.18.0.3 80 second-address
	expect_answer "$PEER" tcp 198.18.1.1 80 refused
	expect_answer "$PEER" tcp 2001:db8::1 80 refused
	# Local clients too: the output chain has the address rule.
	expect_answer "$HOST" tcp 198.18.0.3 80 second-address
	expect_answer "$HOST" tcp 127.0.0.1 80 refused
	expect_show "$HOST" 'redirect tcp 80 to 8081 on 198.18.0.1
redirect tcp 80 to 8082 on 198.18.0.3'
	table_of "$HOST" | grep -F -x -A1 '		elements = { 198.18.0.1 . 80 : 8081,' | grep -F -x '			     198.18.0.3 . 80 : 8082 }'
}

test_an_ipv6_address_scope() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 link-one
	start_listener "$HOST" "$LISTENER_USER" tcp 8082 link-two
	mapping 'redirect tcp 80 to 8081 on 2001:db8::1' 'redirect tcp 80 to 8082 on 2001:db8:1::1'
	apply_mapping
	expect_answer "$PEER" tcp 2001:db8::1 80 link-one
	expect_answer "$PEER2" tcp 2001:db8:1::1 80 link-two
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
}

test_each_interface_reaches_its_own_target() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 from-veth0
	start_listener "$HOST" "$LISTENER_USER" tcp 8082 from-veth1
	mapping 'redirect tcp 80 to 8081 iif veth0' 'redirect tcp 80 to 8082 iif veth1'
	apply_mapping
	expect_answer "$PEER" tcp 198.18.0.1 80 from-veth0
	expect_answer "$PEER" tcp 2001:db8::1 80 from-veth0
	expect_answer "$PEER2" tcp 198.18.1.1 80 from-veth1
	expect_answer "$PEER2" tcp 2001:db8:1::1 80 from-veth1
	# The address belongs to the other link; the interface decides.
	expect_answer "$PEER" tcp 198.18.1.1 80 from-veth0
	expect_answer "$PEER2" tcp 198.18.0.1 80 from-veth1
	# Local clients arrive on no interface.
	expect_answer "$HOST" tcp 127.0.0.1 80 refused
	expect_answer "$HOST" tcp 198.18.0.1 80 refused
	expect_show "$HOST" 'redirect tcp 80 to 8081 iif veth0
redirect tcp 80 to 8082 iif veth1'
	table_of "$HOST" | grep -F -x '		elements = { ipv4 . "veth0" . 80 : 8081,'
}

test_an_interface_scope_of_one_family() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 veth0-any
	start_listener "$HOST" "$LISTENER_USER" tcp 8082 veth0-ipv6
	mapping 'redirect tcp 80 to 8081 iif veth0' 'redirect tcp 80 to 8082 iif veth0 ipv6'
	apply_mapping
	expect_answer "$PEER" tcp 198.18.0.1 80 veth0-any
	expect_answer "$PEER" tcp 2001:db8::1 80 veth0-ipv6
	expect_answer "$PEER2" tcp 198.18.1.1 80 refused
	expect_show "$HOST" 'redirect tcp 80 to 8081 iif veth0 ipv4
redirect tcp 80 to 8082 iif veth0 ipv6'
}

test_an_ipv6_redirect_leaves_ipv4_clients_alone() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 ipv6-only
	start_listener "$HOST" "$LISTENER_USER" udp 5353 ipv4-dns
	mapping 'redirect tcp 80 to 8081 ipv6' 'redirect udp domain to 5353 ipv4'
	apply_mapping
	expect_answer "$PEER" tcp 2001:db8::1 80 ipv6-only
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
	expect_answer "$HOST" tcp ::1 80 ipv6-only
	expect_answer "$HOST" tcp 127.0.0.1 80 refused
	expect_answer "$PEER" udp 198.18.0.1 53 ipv4-dns
	expect_answer "$PEER" udp 2001:db8::1 53 refused
	expect_show "$HOST" 'redirect tcp 80 to 8081 ipv6
redirect udp 53 to 5353 ipv4'
}

test_a_range_reaches_three_targets_and_names_are_ports() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 9000 nine-thousand
	start_listener "$HOST" "$LISTENER_USER" tcp 9001 nine-thousand-one
	start_listener "$HOST" "$LISTENER_USER" tcp 9002 nine-thousand-two
	start_listener "$HOST" "$LISTENER_USER" tcp 8080 web
	start_listener "$HOST" "$LISTENER_USER" tcp 8443 tls
	mapping 'redirect tcp 8000-8002 to 9000-9002' 'redirect tcp http to http-alt' 'redirect tcp https to 8443'
	apply_mapping
	expect_answer "$PEER" tcp 198.18.0.1 8000 nine-thousand
	expect_answer "$PEER" tcp 198.18.0.1 8001 nine-thousand-one
	expect_answer "$PEER" tcp 2001:db8::1 8002 nine-thousand-two
	expect_answer "$PEER" tcp 198.18.0.1 8003 refused
	expect_answer "$PEER" tcp 198.18.0.1 80 web
	expect_answer "$PEER" tcp 198.18.0.1 443 tls
	expect_show "$HOST" 'redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect tcp 8000-8002 to 9000-9002'
	table_of "$HOST" | grep -F -x '		elements = { 80 : 8080, 443 : 8443, 8000 : 9000, 8001 : 9001, 8002 : 9002 }'
}

test_the_most_specific_redirect_wins() {
	topology_two_links
	start_listener "$HOST" "$LISTENER_USER" tcp 8080 unscoped
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 on-second-address
	start_listener "$HOST" "$LISTENER_USER" tcp 8082 from-veth1
	start_listener "$HOST" "$LISTENER_USER" tcp 8083 ipv6
	mapping 'redirect tcp 80 to 8080' 'redirect tcp 80 to 8081 on 198.18.0.3' \
		'redirect tcp 80 to 8082 iif veth1' 'redirect tcp 80 to 8083 ipv6'
	apply_mapping
	expect_answer "$PEER" tcp 198.18.0.1 80 unscoped
	expect_answer "$PEER" tcp 198.18.0.3 80 on-second-address
	expect_answer "$PEER2" tcp 198.18.0.3 80 on-second-address
	expect_answer "$PEER2" tcp 198.18.1.1 80 from-veth1
	expect_answer "$PEER2" tcp 2001:db8:1::1 80 from-veth1
	expect_answer "$PEER" tcp 2001:db8::1 80 ipv6
	expect_answer "$HOST" tcp 127.0.0.1 80 unscoped
	expect_answer "$HOST" tcp ::1 80 ipv6
}

# The nft oracle: the whole table, maps and one rule per scope kind in
# use in the order of precedence, exactly as nft lists it.
test_the_table_has_one_rule_per_scope_kind_in_use() {
	local expected
	topology_two_links
	mapping 'redirect tcp 80 to 8080' 'redirect tcp 80 to 8081 on 198.18.0.3' \
		'redirect tcp 80 to 8082 iif veth1' 'redirect tcp 80-81 to 8083-8084 ipv6' \
		'redirect udp 53 to 5353 on 2001:db8::1'
	apply_mapping
	expected='table inet portredir {
	map tcp_redirects {
		type inet_service : inet_service
		elements = { 80 : 8080 }
	}

	map udp_redirects {
		type inet_service : inet_service
	}

	map tcp_family_redirects {
		type nf_proto . inet_service : inet_service
		elements = { ipv6 . 80 : 8083,
			     ipv6 . 81 : 8084 }
	}

	map tcp_iif_redirects {
		type nf_proto . ifname . inet_service : inet_service
		elements = { ipv4 . "veth1" . 80 : 8082,
			     ipv6 . "veth1" . 80 : 8082 }
	}

	map tcp_on4_redirects {
		type ipv4_addr . inet_service : inet_service
		elements = { 198.18.0.3 . 80 : 8081 }
	}

	map udp_on6_redirects {
		type ipv6_addr . inet_service : inet_service
		elements = { 2001:db8::1 . 53 : 5353 }
	}

	set tcp_counts {
		type inet_service
		size 65535
		flags dynamic
	}

	set udp_counts {
		type inet_service
		size 65535
		flags dynamic
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local ip daddr . tcp dport @tcp_on4_redirects update @tcp_counts { tcp dport counter } redirect to :ip daddr . tcp dport map @tcp_on4_redirects
		fib daddr type local meta nfproto . iifname . tcp dport @tcp_iif_redirects update @tcp_counts { tcp dport counter } redirect to :meta nfproto . iifname . tcp dport map @tcp_iif_redirects
		fib daddr type local meta nfproto . tcp dport @tcp_family_redirects update @tcp_counts { tcp dport counter } redirect to :meta nfproto . tcp dport map @tcp_family_redirects
		fib daddr type local tcp dport @tcp_redirects update @tcp_counts { tcp dport counter } redirect to :tcp dport map @tcp_redirects
		fib daddr type local ip6 daddr . udp dport @udp_on6_redirects update @udp_counts { udp dport counter } redirect to :ip6 daddr . udp dport map @udp_on6_redirects
		fib daddr type local udp dport @udp_redirects update @udp_counts { udp dport counter } redirect to :udp dport map @udp_redirects
	}

	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local ip daddr . tcp dport @tcp_on4_redirects update @tcp_counts { tcp dport counter } redirect to :ip daddr . tcp dport map @tcp_on4_redirects
		fib daddr type local meta nfproto . tcp dport @tcp_family_redirects update @tcp_counts { tcp dport counter } redirect to :meta nfproto . tcp dport map @tcp_family_redirects
		fib daddr type local tcp dport @tcp_redirects update @tcp_counts { tcp dport counter } redirect to :tcp dport map @tcp_redirects
		fib daddr type local ip6 daddr . udp dport @udp_on6_redirects update @udp_counts { udp dport counter } redirect to :ip6 daddr . udp dport map @udp_on6_redirects
		fib daddr type local udp dport @udp_redirects update @udp_counts { udp dport counter } redirect to :udp dport map @udp_redirects
	}
}'
	expect_table "$HOST" "$expected"
	# The same text, loaded by nft, is what portredir reads as in sync.
	ip netns exec "$HOST" nft delete table inet portredir
	printf '%s\n' "$expected" | ip netns exec "$HOST" nft -f -
	expect_portredir "$HOST" 0 "" -f "$MAPPING" diff
}

test_show_then_apply_changes_nothing() {
	topology_two_links
	mapping 'redirect tcp 80 to 8080' 'redirect tcp 80 to 8081 on 198.18.0.3' \
		'redirect tcp 80 to 8082 iif veth1' 'redirect tcp 80 to 8085 iif veth0 ipv6' \
		'redirect tcp,udp 8000-8009 to 9000 ipv4' 'redirect udp 53 to 5353 on 2001:db8::1'
	apply_mapping
	portredir_in "$HOST" show >"$TEST_DIR/shown.conf"
	chmod 0644 "$TEST_DIR/shown.conf"
	expect_portredir "$HOST" 0 "" -q -f "$TEST_DIR/shown.conf" diff
	expect_portredir "$HOST" 0 "" -q -f "$TEST_DIR/shown.conf" apply
	expect_eq "show" 'redirect tcp 80 to 8080
redirect tcp 80 to 8085 iif veth0 ipv6
redirect tcp 80 to 8082 iif veth1
redirect tcp 80 to 8081 on 198.18.0.3
redirect tcp 8000-8009 to 9000 ipv4
redirect udp 53 to 5353 on 2001:db8::1
redirect udp 8000-8009 to 9000 ipv4' "$(cat "$TEST_DIR/shown.conf")"
}

# Scopes that go away take their maps and rules with them: the table is
# the base layout again.
test_the_last_scoped_redirect_takes_its_map_along() {
	topology_two_links
	mapping 'redirect tcp 80 to 8080 on 198.18.0.3' 'redirect tcp 443 to 8443 iif veth1' \
		'redirect udp 443 to 8443 ipv6'
	apply_mapping
	expect_portredir "$HOST" 0 '~ map udp_family_redirects: deleted (no redirect uses it)
~ map tcp_iif_redirects: deleted (no redirect uses it)
~ map tcp_on4_redirects: deleted (no redirect uses it)
~ chain prerouting: recreated (the scopes in use changed)
~ chain output: recreated (the scopes in use changed)
+ redirect tcp 80 to 8080
- redirect tcp 80 to 8080 on 198.18.0.3
+ redirect tcp 443 to 8443
- redirect tcp 443 to 8443 iif veth1 ipv4
- redirect tcp 443 to 8443 iif veth1 ipv6
+ redirect udp 443 to 8443
- redirect udp 443 to 8443 ipv6' -f "$RULES_DIR" apply
	expect_table "$HOST" "$EXPECTED_TABLE"
}

# A foreign rule in a chain, or an element of another shape in a scoped
# map, is repaired like any other drift.
test_drift_in_the_scoped_layout_is_repaired() {
	topology_two_links
	mapping 'redirect tcp 80 to 8081 on 198.18.0.3' 'redirect tcp 80 to 8082 iif veth1'
	apply_mapping
	ip netns exec "$HOST" nft flush chain inet portredir prerouting
	ip netns exec "$HOST" nft add element inet portredir tcp_iif_redirects '{ ipv4 . "evil0" . 22 : 2222 }'
	run_captured portredir_in "$HOST" -f "$MAPPING" diff
	expect_eq "diff exit status" 1 "$RUN_STATUS"
	expect_portredir "$HOST" 0 "" -q -f "$MAPPING" apply
	expect_portredir "$HOST" 0 "" -f "$MAPPING" diff
	expect_show "$HOST" 'redirect tcp 80 to 8082 iif veth1
redirect tcp 80 to 8081 on 198.18.0.3'
}

test_absent_addresses_and_interfaces_are_warnings() {
	topology_two_links
	mapping 'redirect tcp 80 to 8081 on 198.18.0.99' 'redirect tcp 80 to 8082 iif wlan7'
	run_captured portredir_in "$HOST" -f "$MAPPING" apply
	expect_eq "apply exit status" 0 "$RUN_STATUS"
	expect_eq "apply warnings" "$MAPPING:2:25: warning: interface wlan7 does not exist now; its redirects apply once it does
    2 | redirect tcp 80 to 8082 iif wlan7
      |                         ^~~
$MAPPING:1:25: warning: 198.18.0.99 is not an address of this host now; its redirects apply once it is
    1 | redirect tcp 80 to 8081 on 198.18.0.99
      |                         ^~" "$RUN_ERR"
	# The address comes: the redirect works without another apply.
	start_listener "$HOST" "$LISTENER_USER" tcp 8081 came-later
	ip -n "$HOST" addr add 198.18.0.99/24 dev veth0
	expect_answer "$PEER" tcp 198.18.0.99 80 came-later
}

test_json_carries_the_scope() {
	topology_two_links
	mapping 'redirect tcp 80 to 8081 on 198.18.0.3' 'redirect tcp 81-82 to 8082 iif veth1 ipv6'
	run_captured portredir_in "$HOST" -f "$MAPPING" --json check
	expect_json "check --json" '{"unprivileged_port_start": null, "redirects": [
 {"protocol": "tcp", "port": 80, "target": 8081, "owner": null, "on": "198.18.0.3", "iif": null, "family": "ipv4"},
 {"protocol": "tcp", "port": 81, "target": 8082, "owner": null, "on": null, "iif": "veth1", "family": "ipv6"},
 {"protocol": "tcp", "port": 82, "target": 8082, "owner": null, "on": null, "iif": "veth1", "family": "ipv6"}]}' "$RUN_OUT"
}

# status follows each scope: the kinds of client outside it are not the
# mapping's, an absent address or interface is a problem, and the count
# of a port's connections covers all its scopes.
test_status_follows_each_scope() {
	local family link
	topology_two_links
	start_server "$HOST" "$LISTENER_USER" tcp :: 8081 family
	family=${BACKGROUND_PIDS[-1]}
	start_server "$HOST" "$LISTENER_USER" tcp :: 8082 link
	link=${BACKGROUND_PIDS[-1]}
	mapping 'redirect tcp 80 to 8081 ipv6' 'redirect tcp 80 to 8082 iif veth1' \
		'redirect tcp 80 to 8083 on 198.18.0.9' 'redirect tcp 80 to 8084 iif wg9'
	apply_mapping
	expect_answer "$PEER" tcp 2001:db8::1 80 family
	expect_answer "$PEER2" tcp 198.18.1.1 80 link
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
	expect_portredir "$HOST" 1 "tcp 80 to 8081 ipv6: healthy; [::]:8081 (python3, pid $family, user nobody); 2 connections to tcp 80 in all its scopes, 0 active
tcp 80 to 8082 iif veth1: healthy; [::]:8082 (python3, pid $link, user nobody); 2 connections to tcp 80 in all its scopes, 0 active
tcp 80 to 8084 iif wg9: 1 problem
  listening: nothing
  clients: remote IPv4 no, remote IPv6 no, local IPv4 (not in scope), local IPv6 (not in scope)
  traffic: 2 connections to tcp 80 in all its scopes, 0 active
  problem: no traffic arrives for port 80 on wg9: no interface has that name; create it, or change the iif clause
tcp 80 to 8083 on 198.18.0.9: 1 problem
  listening: nothing
  clients: remote IPv4 no, remote IPv6 (not in scope), local IPv4 no, local IPv6 (not in scope)
  traffic: 2 connections to tcp 80 in all its scopes, 0 active
  problem: no traffic arrives for port 80 on 198.18.0.9: 198.18.0.9 is not an address of this host; add it, or change the on clause
unprivileged_port_start: 1024 (not declared)
2 problems" -f "$MAPPING" status
	run_captured portredir_in "$HOST" -f "$MAPPING" --json status
	"$PYTHON" -c '
import json, sys
mappings = json.loads(sys.argv[1])["mappings"]
got = [(m["target"], m["on"], m["iif"], m["family"], m["reachable"]) for m in mappings]
want = [(8081, None, None, "ipv6", {"remote_ipv4": None, "remote_ipv6": True, "local_ipv4": None, "local_ipv6": True}),
        (8082, None, "veth1", None, {"remote_ipv4": True, "remote_ipv6": True, "local_ipv4": None, "local_ipv6": None}),
        (8084, None, "wg9", None, {"remote_ipv4": False, "remote_ipv6": False, "local_ipv4": None, "local_ipv6": None}),
        (8083, "198.18.0.9", None, "ipv4", {"remote_ipv4": False, "remote_ipv6": None, "local_ipv4": False, "local_ipv6": None})]
sys.exit(None if got == want else "# status --json: got %r" % (got,))
' "$RUN_OUT"
}

run_tests
