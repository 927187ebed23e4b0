#!/bin/bash
# portredir status: for each listener a user may have started, what status
# says (exact text and JSON, exit status) and what real clients get, which
# must agree; shadowed listeners; the counters and conntrack; conflicts
# with other tables. Namespaces "host" (198.18.0.1, 2001:db8::1 on veth0)
# and "peer" (198.18.0.2, 2001:db8::2), as in traffic.sh.
. "$(dirname "$0")/lib.sh"

setup() {
	topology_host_peer
	MAPPING=$TEST_DIR/status.conf
	write_mapping "$MAPPING" 'redirect tcp 80 to 8080'
}

applied() {
	setup
	portredir_in "$HOST" -q -f "$MAPPING" apply
}

# server ADDRESS [v6only]: nobody's server on ADDRESS:8080; sets PID.
server() {
	start_server "$HOST" "$LISTENER_USER" tcp "$1" 8080 service ${2:+"$2"}
	PID=${BACKGROUND_PIDS[-1]}
}

# expect_clients REMOTE_IPV4 REMOTE_IPV6 LOCAL_IPV4 LOCAL_IPV6: what real
# clients of port 80 get ("service" or "refused").
expect_clients() {
	expect_answer "$PEER" tcp 198.18.0.1 80 "$1"
	expect_answer "$PEER" tcp 2001:db8::1 80 "$2"
	expect_answer "$HOST" tcp 127.0.0.1 80 "$3"
	expect_answer "$HOST" tcp ::1 80 "$4"
}

expect_status() {
	expect_portredir "$HOST" "$1" "$2" -f "$MAPPING" status
}

NOT_DECLARED='unprivileged_port_start: 1024 (not declared)'

test_a_dual_stack_listener_is_healthy_and_exits_0() {
	applied
	server ::
	expect_clients service service service service
	expect_status 0 "tcp 80 to 8080: healthy; [::]:8080 (python3, pid $PID, user nobody); 4 connections, 0 active
$NOT_DECLARED
healthy"
}

test_a_listener_on_127_0_0_1_refuses_remote_and_local_ipv6_clients() {
	applied
	server 127.0.0.1
	expect_clients refused refused service refused
	expect_status 1 "tcp 80 to 8080: 2 problems
  listening: 127.0.0.1:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 no, remote IPv6 no, local IPv4 yes, local IPv6 no
  traffic: 4 connections, 0 active
  problem: remote clients of port 80 are refused: 8080 listens on 127.0.0.1 only; listen on [::]:8080
  problem: local IPv6 clients of port 80 are refused: 8080 listens on 127.0.0.1 only; listen on [::]:8080
$NOT_DECLARED
2 problems"
}

test_a_listener_on_ipv6_loopback_serves_only_local_ipv6_clients() {
	applied
	server ::1
	expect_clients refused refused refused service
	expect_status 1 "tcp 80 to 8080: 2 problems
  listening: [::1]:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 no, remote IPv6 no, local IPv4 no, local IPv6 yes
  traffic: 4 connections, 0 active
  problem: remote clients of port 80 are refused: 8080 listens on [::1] only; listen on [::]:8080
  problem: local IPv4 clients of port 80 are refused: 8080 listens on [::1] only; listen on [::]:8080
$NOT_DECLARED
2 problems"
}

# Python's http.server default.
test_a_listener_on_0_0_0_0_refuses_every_ipv6_client() {
	applied
	server 0.0.0.0
	expect_clients service refused service refused
	expect_status 1 "tcp 80 to 8080: 1 problem
  listening: 0.0.0.0:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 yes, remote IPv6 no, local IPv4 yes, local IPv6 no
  traffic: 4 connections, 0 active
  problem: IPv6 clients of port 80 are refused: 8080 listens on 0.0.0.0 only; listen on [::]:8080
$NOT_DECLARED
1 problem"
}

test_an_ipv6_only_listener_refuses_every_ipv4_client() {
	applied
	server :: v6only
	expect_clients refused service refused service
	expect_status 1 "tcp 80 to 8080: 1 problem
  listening: [::]:8080 IPv6 only (python3, pid $PID, user nobody)
  clients: remote IPv4 no, remote IPv6 yes, local IPv4 no, local IPv6 yes
  traffic: 4 connections, 0 active
  problem: IPv4 clients of port 80 are refused: 8080 listens on [::] (IPV6_V6ONLY) only; listen on [::]:8080 without IPV6_V6ONLY, or on 0.0.0.0:8080 too
$NOT_DECLARED
1 problem"
}

test_nothing_listening_refuses_every_client() {
	applied
	expect_clients refused refused refused refused
	expect_status 1 "tcp 80 to 8080: 1 problem
  listening: nothing
  clients: remote IPv4 no, remote IPv6 no, local IPv4 no, local IPv6 no
  traffic: 4 connections, 0 active
  problem: clients of port 80 are refused: nothing listens on 8080; start the service on [::]:8080
$NOT_DECLARED
1 problem"
}

# Remote IPv4 clients are sent to the first address of the interface they
# arrive on: a socket on it serves them, and only them.
test_a_listener_on_the_interface_address_serves_only_remote_ipv4_clients() {
	applied
	server 198.18.0.1
	expect_clients service refused refused refused
	expect_status 1 "tcp 80 to 8080: 2 problems
  listening: 198.18.0.1:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 yes, remote IPv6 no, local IPv4 no, local IPv6 no
  traffic: 4 connections, 0 active
  problem: IPv6 clients of port 80 are refused: 8080 listens on 198.18.0.1 only; listen on [::]:8080
  problem: local IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.1 only; listen on [::]:8080
$NOT_DECLARED
2 problems"
}

# A second address of the interface is not where the redirect sends anyone.
test_a_listener_on_a_second_address_gets_no_client() {
	applied
	ip -n "$HOST" addr add 198.18.0.5/24 dev veth0
	server 198.18.0.5
	expect_answer "$PEER" tcp 198.18.0.5 80 refused
	expect_clients refused refused refused refused
	expect_status 1 "tcp 80 to 8080: 3 problems
  listening: 198.18.0.5:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 no, remote IPv6 no, local IPv4 no, local IPv6 no
  traffic: 5 connections, 0 active
  problem: IPv6 clients of port 80 are refused: 8080 listens on 198.18.0.5 only; listen on [::]:8080
  problem: remote IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.5 only, and the redirect sends those arriving on veth0 to 198.18.0.1:8080; listen on [::]:8080
  problem: local IPv4 clients of port 80 are refused: 8080 listens on 198.18.0.5 only; listen on [::]:8080
$NOT_DECLARED
3 problems"
}

# A root service on 80 and sshd on 22: after apply their clients reach the
# targets. apply says so (exit status unchanged), and so does status.
test_root_listeners_on_80_and_22_are_shadowed() {
	local root80 root22 pid2222
	setup
	write_mapping "$MAPPING" 'redirect tcp 22 to 2222' 'redirect tcp 80 to 8080'
	start_server "$HOST" root tcp 0.0.0.0 80 old-web
	root80=${BACKGROUND_PIDS[-1]}
	start_server "$HOST" root tcp :: 22 sshd
	root22=${BACKGROUND_PIDS[-1]}
	server ::
	start_server "$HOST" "$LISTENER_USER" tcp :: 2222 new-ssh
	pid2222=${BACKGROUND_PIDS[-1]}
	expect_answer "$PEER" tcp 198.18.0.1 22 sshd
	run_captured portredir_in "$HOST" -f "$MAPPING" apply
	expect_eq "exit status of apply" 0 "$RUN_STATUS"
	expect_eq "stdout of apply" '~ table inet portredir: created (missing)
+ redirect tcp 22 to 2222
+ redirect tcp 80 to 8080' "$RUN_OUT"
	expect_eq "stderr of apply" "portredir: warning: redirect tcp 22 to 2222 shadows [::]:22 (python3, pid $root22, user root): its clients now reach 2222 instead
portredir: warning: redirect tcp 80 to 8080 shadows 0.0.0.0:80 (python3, pid $root80, user root): its clients now reach 8080 instead" "$RUN_ERR"
	expect_answer "$PEER" tcp 198.18.0.1 22 new-ssh
	expect_answer "$PEER" tcp 198.18.0.1 80 service
	expect_status 1 "tcp 22 to 2222: 1 problem
  listening: [::]:2222 (python3, pid $pid2222, user nobody)
  clients: remote IPv4 yes, remote IPv6 yes, local IPv4 yes, local IPv6 yes
  shadowed: [::]:22 (python3, pid $root22, user root)
  traffic: 1 connection, 0 active
  problem: [::]:22 (python3, pid $root22, user root) is shadowed: the redirect sends its clients to 2222; stop it, or remove this mapping
tcp 80 to 8080: 1 problem
  listening: [::]:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 yes, remote IPv6 yes, local IPv4 yes, local IPv6 yes
  shadowed: 0.0.0.0:80 (python3, pid $root80, user root)
  traffic: 1 connection, 0 active
  problem: 0.0.0.0:80 (python3, pid $root80, user root) is shadowed: the redirect sends its clients to 8080; stop it, or remove this mapping
$NOT_DECLARED
2 problems"
	# Installed once: a second apply installs nothing and warns of nothing.
	expect_portredir "$HOST" 0 "" -f "$MAPPING" apply
}

test_three_connections_are_counted_as_exactly_three() {
	applied
	server ::
	expect_status 0 "tcp 80 to 8080: healthy; [::]:8080 (python3, pid $PID, user nobody); 0 connections, 0 active
$NOT_DECLARED
healthy"
	expect_answer "$PEER" tcp 198.18.0.1 80 service
	expect_answer "$PEER" tcp 2001:db8::1 80 service
	expect_answer "$HOST" tcp 127.0.0.1 80 service
	# Traffic that is not redirected is not counted.
	expect_answer "$PEER" tcp 198.18.0.1 8080 service
	expect_answer "$HOST" tcp ::1 8080 service
	run_captured portredir_in "$HOST" --json -f "$MAPPING" status
	expect_eq "exit status of status --json" 0 "$RUN_STATUS"
	expect_eq "connections" 3 "$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["mappings"][0]["connections"])' "$RUN_OUT")"
}

active_of() {
	portredir_in "$HOST" --json -f "$MAPPING" status |
		"$PYTHON" -c 'import json, sys; m = json.load(sys.stdin)["mappings"][0]; print(m["active"], m["connections"])'
}

active_is() {
	[ "$(active_of)" = "$1" ]
}

test_two_open_connections_are_active_until_they_close() {
	applied
	start_server "$HOST" "$LISTENER_USER" tcp :: 8080 service hold
	expect_eq "active and connections before" "0 0" "$(active_of)"
	hold two "$HOST" 127.0.0.1 80 2
	expect_eq "active and connections while open" "2 2" "$(active_of)"
	release two
	# Closing takes the kernel a few packets: polled, not timed.
	wait_for "no active connection" active_is "0 2"
	expect_eq "active and connections after" "0 2" "$(active_of)"
}

test_a_foreign_ip_nat_table_that_takes_port_80_is_reported() {
	applied
	server ::
	in_ns "$HOST" nft -f - <<'NFT'
table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "veth0" tcp dport 80 dnat to 198.18.0.2:8000
		tcp dport 8000-8100 dnat to 198.18.0.2
	}
}
NFT
	expect_status 1 "tcp 80 to 8080: 1 problem
  listening: [::]:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 yes, remote IPv6 yes, local IPv4 yes, local IPv6 yes
  traffic: 0 connections, 0 active
  problem: remote IPv4 clients of port 80 may not reach 8080: table ip nat, chain PREROUTING runs beside portredir's, and rule handle 2 changes the destination of tcp port 80
conflict: table ip nat, chain PREROUTING (nat): runs beside portredir's (both at priority -100: which goes first portredir cannot see) for new connections of remote IPv4 clients: rule handle 2 changes the destination of tcp port 80; move those rules, or give the chain a priority above -100
$NOT_DECLARED
1 problem, 1 conflict"
}

# After the redirect, connections arrive at input with port 8080: a
# firewall that accepts 22 and 80 drops them. 'ct status dnat accept'
# lets them in, and status then has nothing to say.
test_a_policy_drop_input_table_is_reported_until_it_accepts_dnat() {
	applied
	server ::
	in_ns "$HOST" nft -f - <<'NFT'
table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 22, 80 } accept
	}
}
NFT
	expect_status 1 "tcp 80 to 8080: 1 problem
  listening: [::]:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 yes, remote IPv6 yes, local IPv4 yes, local IPv6 yes
  traffic: 0 connections, 0 active
  problem: connections redirected to 8080 may be dropped: table inet filter, chain input has policy drop, and no rule portredir recognizes accepts 'ct status dnat' or 'tcp dport 8080'; add 'ct status dnat accept' to it
conflict: table inet filter, chain input (filter): policy drop on the input hook for clients: redirected connections arrive there with their target port, and no rule portredir recognizes accepts 'ct status dnat' or 'tcp dport 8080' (a heuristic); add 'ct status dnat accept' to the chain
$NOT_DECLARED
1 problem, 1 conflict"
	in_ns "$HOST" nft add rule inet filter input ct status dnat accept comment '"redirected"'
	expect_answer "$PEER" tcp 198.18.0.1 80 service
	expect_status 0 "tcp 80 to 8080: healthy; [::]:8080 (python3, pid $PID, user nobody); 1 connection, 0 active
$NOT_DECLARED
healthy"
	# What status warned of is real: without that rule, they are dropped.
	in_ns "$HOST" nft delete rule inet filter input handle \
		"$(in_ns "$HOST" nft -a list chain inet filter input | sed -n 's/.*"redirected" # handle \([0-9]*\)$/\1/p')"
	expect_answer "$PEER" tcp 198.18.0.1 80 timeout
}

test_a_missing_table_is_not_applied() {
	setup
	server ::
	expect_status 1 "tcp 80 to 8080: 1 problem
  listening: [::]:8080 (python3, pid $PID, user nobody)
  clients: remote IPv4 yes, remote IPv6 yes, local IPv4 yes, local IPv6 yes
  traffic: connections not counted, 0 active
  problem: not applied: run portredir apply
problem: not applied: table inet portredir does not exist; run portredir apply
$NOT_DECLARED
2 problems"
}

test_a_kernel_that_differs_from_the_file_and_its_sysctl_are_problems() {
	applied
	server ::
	write_mapping "$MAPPING" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080' 'redirect tcp 443 to 8443'
	expect_status 1 "tcp 80 to 8080: healthy; [::]:8080 (python3, pid $PID, user nobody); 0 connections, 0 active
tcp 443 to 8443: 2 problems
  listening: nothing
  clients: remote IPv4 no, remote IPv6 no, local IPv4 no, local IPv6 no
  traffic: connections not counted, 0 active
  problem: not applied: run portredir apply
  problem: clients of port 443 are refused: nothing listens on 8443; start the service on [::]:8443
problem: table inet portredir differs from the mapping file (2 changes; portredir diff shows them): run portredir apply
problem: net.ipv4.ip_unprivileged_port_start is 1024, the mapping file declares 1000: run portredir apply
unprivileged_port_start: 1024 (declared 1000)
4 problems"
}

# Every field of design.md's document, and the ones status adds.
test_json_carries_every_field() {
	local root
	applied
	write_mapping "$MAPPING" 'redirect tcp 80 to 8080' 'redirect udp 443 to 8443'
	portredir_in "$HOST" -q -f "$MAPPING" apply
	server 127.0.0.1
	start_server "$HOST" root tcp 0.0.0.0 80 old-web
	root=${BACKGROUND_PIDS[-1]}
	start_server "$HOST" "$LISTENER_USER" udp :: 8443 quic v6only
	in_ns "$HOST" nft -f - <<'NFT'
table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority -110; policy accept;
		tcp dport 80 redirect to :8000
	}
}
NFT
	expect_answer "$HOST" tcp 127.0.0.1 80 service
	run_captured portredir_in "$HOST" --json -f "$MAPPING" status
	expect_eq "exit status of status --json" 1 "$RUN_STATUS"
	expect_eq "stderr of status --json" "" "$RUN_ERR"
	expect_json "status --json" '{"healthy": false,
 "mappings": [{"protocol": "tcp", "port": 80, "target": 8080, "owner": null, "on": null, "iif": null, "family": null,
   "listeners": [{"address": "127.0.0.1", "port": 8080, "uid": 65534, "user": "nobody", "pid": '"$PID"', "process": "python3", "ipv6_only": null, "interface": null, "cgroup": null}],
   "reachable": {"remote_ipv4": false, "remote_ipv6": false, "local_ipv4": true, "local_ipv6": false},
   "shadowed": [{"address": "0.0.0.0", "port": 80, "uid": 0, "user": "root", "pid": '"$root"', "process": "python3", "ipv6_only": null, "interface": null, "cgroup": null}],
   "connections": 1, "active": 0,
   "problems": ["remote clients of port 80 are refused: 8080 listens on 127.0.0.1 only; listen on [::]:8080",
     "local IPv6 clients of port 80 are refused: 8080 listens on 127.0.0.1 only; listen on [::]:8080",
     "0.0.0.0:80 (python3, pid '"$root"', user root) is shadowed: the redirect sends its clients to 8080; stop it, or remove this mapping",
     "remote IPv4 clients of port 80 may not reach 8080: table ip nat, chain PREROUTING runs before portredir'"'"'s, and rule handle 2 changes the destination of tcp port 80"]},
  {"protocol": "udp", "port": 443, "target": 8443, "owner": null, "on": null, "iif": null, "family": null,
   "listeners": [{"address": "::", "port": 8443, "uid": 65534, "user": "nobody", "pid": '"${BACKGROUND_PIDS[-1]}"', "process": "python3", "ipv6_only": true, "interface": null, "cgroup": null}],
   "reachable": {"remote_ipv4": false, "remote_ipv6": true, "local_ipv4": false, "local_ipv6": true},
   "shadowed": [], "connections": 0, "active": 0,
   "problems": ["IPv4 clients of port 443 are refused: 8443 listens on [::] (IPV6_V6ONLY) only; listen on [::]:8443 without IPV6_V6ONLY, or on 0.0.0.0:8443 too"]}],
 "conflicts": [{"kind": "nat", "table": "ip nat", "chain": "PREROUTING", "reason": "runs before portredir'"'"'s (priority -110, portredir'"'"'s -100) for new connections of remote IPv4 clients: rule handle 2 changes the destination of tcp port 80; move those rules, or give the chain a priority above -100"}],
 "sysctl": {"declared": null, "current": 1024},
 "problems": []}' "$RUN_OUT"
}

# flush resets the established redirected connections (IPv4, IPv6, local)
# and says how many first.
test_flush_says_how_many_connections_it_resets() {
	setup
	write_mapping "$MAPPING" 'redirect tcp 80 to 8080' 'redirect tcp 443 to 8443'
	portredir_in "$HOST" -q -f "$MAPPING" apply
	start_server "$HOST" "$LISTENER_USER" tcp :: 8080 web hold
	start_server "$HOST" "$LISTENER_USER" tcp :: 8443 tls hold
	hold remote4 "$PEER" 198.18.0.1 80 2
	hold remote6 "$PEER" 2001:db8::1 443
	hold local "$HOST" 127.0.0.1 80
	poke remote4 'web still answering
web still answering'
	poke remote6 'tls still answering'
	poke local 'web still answering'
	run_captured portredir_in "$HOST" flush
	expect_eq "exit status of flush" 0 "$RUN_STATUS"
	expect_eq "stdout of flush" "- table inet portredir" "$RUN_OUT"
	expect_eq "stderr of flush" "portredir: warning: flush resets 4 established redirected connections (tcp 80, 443)" "$RUN_ERR"
	poke remote4 'reset
reset'
	poke remote6 'reset'
	poke local 'reset'
	release remote4
	release remote6
	release local
}

run_tests
