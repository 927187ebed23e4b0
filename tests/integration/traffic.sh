#!/bin/bash
# Traffic through the redirect: clients on another host and on the host
# itself reach the non-root services on 8080/8443 through ports 80/443, and
# traffic to other hosts is left alone. Namespaces "host" (198.18.0.1,
# 2001:db8::1) and "peer" (198.18.0.2, 2001:db8::2) share a veth link.
. "$(dirname "$0")/lib.sh"

# The host's services, all run by a non-root user; the peer's own web server
# on port 80 (as root: it binds a privileged port without portredir).
start_services() {
	start_listener "$HOST" "$LISTENER_USER" tcp 8080 host-tcp-8080
	start_listener "$HOST" "$LISTENER_USER" tcp 8443 host-tcp-8443
	start_listener "$HOST" "$LISTENER_USER" udp 8443 host-udp-8443
	start_listener "$PEER" root tcp 80 peer-tcp-80
}

# Without the redirect nothing listens on 80/443: what answers later is the
# redirect's doing. Also proves the topology and the listeners work.
test_ports_80_and_443_are_closed_before_apply() {
	topology_host_peer
	start_services
	expect_answer "$PEER" tcp 198.18.0.1 8080 host-tcp-8080
	expect_answer "$PEER" tcp 2001:db8::1 8080 host-tcp-8080
	expect_answer "$PEER" udp 198.18.0.1 8443 host-udp-8443
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
	expect_answer "$PEER" tcp 2001:db8::1 80 refused
	expect_answer "$PEER" tcp 198.18.0.1 443 refused
	expect_answer "$PEER" udp 198.18.0.1 443 refused
	expect_answer "$PEER" udp 2001:db8::1 443 refused
	expect_answer "$HOST" tcp 127.0.0.1 80 refused
	expect_answer "$HOST" tcp ::1 80 refused
}

test_remote_clients_reach_the_tcp_services_on_80_and_443() {
	topology_host_peer
	start_services
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$PEER" tcp 198.18.0.1 80 host-tcp-8080
	expect_answer "$PEER" tcp 2001:db8::1 80 host-tcp-8080
	expect_answer "$PEER" tcp 198.18.0.1 443 host-tcp-8443
	expect_answer "$PEER" tcp 2001:db8::1 443 host-tcp-8443
}

test_local_clients_reach_the_tcp_service_on_80() {
	topology_host_peer
	start_services
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$HOST" tcp 127.0.0.1 80 host-tcp-8080
	expect_answer "$HOST" tcp ::1 80 host-tcp-8080
	expect_answer "$HOST" tcp 198.18.0.1 80 host-tcp-8080
	expect_answer "$HOST" tcp 2001:db8::1 80 host-tcp-8080
}

# HTTP/3 (QUIC): a datagram to 443 reaches the UDP service, and its answer
# comes back from 443.
test_udp_443_reaches_the_udp_service() {
	topology_host_peer
	start_services
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$PEER" udp 198.18.0.1 443 host-udp-8443
	expect_answer "$PEER" udp 2001:db8::1 443 host-udp-8443
	expect_answer "$HOST" udp 127.0.0.1 443 host-udp-8443
	expect_answer "$HOST" udp ::1 443 host-udp-8443
}

# A mapping is for one protocol: udp 80 and tcp ports not in the mapping
# are not redirected.
test_only_mapped_protocols_and_ports_are_redirected() {
	topology_host_peer
	start_services
	start_listener "$HOST" "$LISTENER_USER" udp 8080 host-udp-8080
	start_listener "$HOST" "$LISTENER_USER" tcp 9090 host-tcp-9090
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$PEER" udp 198.18.0.1 80 refused
	expect_answer "$PEER" tcp 198.18.0.1 8080 host-tcp-8080
	expect_answer "$PEER" tcp 198.18.0.1 90 refused
}

# fib daddr type local: a client on the host talking to another host's
# port 80 gets that host's server, not the local service.
test_connections_to_other_hosts_are_not_redirected() {
	topology_host_peer
	start_services
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$HOST" tcp 198.18.0.2 80 peer-tcp-80
	expect_answer "$HOST" tcp 2001:db8::2 80 peer-tcp-80
}

test_changed_target_takes_effect_for_new_connections() {
	topology_host_peer
	start_services
	start_listener "$HOST" "$LISTENER_USER" tcp 9090 host-tcp-9090
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$PEER" tcp 198.18.0.1 80 host-tcp-8080
	write_mapping "$TEST_DIR/moved.conf" 'redirect tcp 80 to 9090' 'redirect tcp,udp 443 to 8443'
	portredir_in "$HOST" -q -f "$TEST_DIR/moved.conf" apply
	expect_answer "$PEER" tcp 198.18.0.1 80 host-tcp-9090
	expect_answer "$PEER" tcp 2001:db8::1 80 host-tcp-9090
	expect_answer "$HOST" tcp 127.0.0.1 80 host-tcp-9090
}

test_flush_stops_the_redirect() {
	topology_host_peer
	start_services
	portredir_in "$HOST" -q -f "$RULES_DIR" apply
	expect_answer "$PEER" tcp 198.18.0.1 80 host-tcp-8080
	portredir_in "$HOST" -q flush
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
	expect_answer "$PEER" tcp 2001:db8::1 80 refused
	expect_answer "$HOST" tcp 127.0.0.1 80 refused
}

run_tests
