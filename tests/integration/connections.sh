#!/bin/bash
# Established redirected connections survive every apply: 50 TCP
# connections (remote and local, IPv4 and IPv6) held open to port 80
# across each kind of change apply makes, each still echoing through the
# service it was first redirected to afterwards.
#
# Why they do: an established connection is translated by its conntrack
# entry's NAT binding, not by the nat chains, which see only a
# connection's first packet; the binding lives as long as the entry. The
# kernel translates while at least one NAT base chain of the family is
# registered (the first one registers the NAT hooks of the netns, the
# last one to go unregisters them), and apply changes everything in one
# transaction, where new chains are registered before old ones go: never
# is there a moment without one. Only packets that arrive while no NAT
# chain exists at all (after flush, or another process's
# `nft flush ruleset`) go untranslated, and are answered with resets.
. "$(dirname "$0")/lib.sh"

# Answers each line with "PORT LINE", for as many connections as come.
ECHO_PROGRAM='
import selectors, socket, sys
port = int(sys.argv[1])
selector = selectors.DefaultSelector()
server = socket.socket(socket.AF_INET6)
server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("::", port))
server.listen(128)
selector.register(server, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        if key.fileobj is server:
            connection, _ = server.accept()
            selector.register(connection, selectors.EVENT_READ)
            continue
        connection = key.fileobj
        try:
            data = connection.recv(4096)
        except ConnectionError:
            data = b""
        if not data:
            selector.unregister(connection)
            connection.close()
            continue
        connection.sendall(b"".join(b"%d %s\n" % (port, line) for line in data.split(b"\n") if line))
'

# Holds ADDRESS/COUNT... connections to port 80 open, and on every
# connection to its control socket sends a line through each and answers
# with how many echoed through which port, and the first failures.
HOLDER_PROGRAM='
import os, socket, sys
control, specifications = sys.argv[1], sys.argv[2:]
held = []
for specification in specifications:
    address, count = specification.rsplit("/", 1)
    for _ in range(int(count)):
        s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        s.settimeout(5)
        s.connect((address, 80))
        held.append((address, s))
server = socket.socket(socket.AF_UNIX)
server.bind(control)
server.listen(1)
round = 0
while True:
    request, _ = server.accept()
    request.recv(16)
    round += 1
    ports, failures = {}, []
    for number, (address, s) in enumerate(held):
        try:
            s.sendall(b"round %d connection %d\n" % (round, number))
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    raise ConnectionError("closed by the server")
                answer += chunk
            port, text = answer.decode().rstrip("\n").split(" ", 1)
            if text != "round %d connection %d" % (round, number):
                raise ValueError("answered %r" % answer)
            ports[port] = ports.get(port, 0) + 1
        except (OSError, ValueError) as error:
            failures.append("%s: %s" % (address, error))
    summary = ", ".join("%d through %s" % (count, port) for port, count in sorted(ports.items()))
    request.sendall(("%d of %d echoed%s%s\n" % (sum(ports.values()), len(held),
                     ": " + summary if summary else "",
                     "; failed: " + "; ".join(failures[:3]) if failures else "")).encode())
    request.close()
'

# echo_round HOLDER: one round through every connection HOLDER holds.
echo_round() {
	"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"round")
print(s.recv(4096).decode().strip())' "$TEST_DIR/$1.control"
}

# expect_all_echo WHAT: all 50 still echo, through 8080 where they began.
expect_all_echo() {
	expect_eq "remote connections after $1" "35 of 35 echoed: 35 through 8080" "$(echo_round remote)"
	expect_eq "local connections after $1" "15 of 15 echoed: 15 through 8080" "$(echo_round local)"
}

# The mapping the connections were made under, and 50 of them: 20 remote
# over IPv4, 15 remote over IPv6, 10 local over IPv4, 5 over IPv6.
start_with_held_connections() {
	topology_host_peer
	write_mapping "$TEST_DIR/start.conf" 'redirect tcp 80 to 8080' 'redirect udp 53 to 5353'
	portredir_in "$HOST" -q -f "$TEST_DIR/start.conf" apply
	background in_ns_as "$HOST" "$LISTENER_USER" "$PYTHON" -c "$ECHO_PROGRAM" 8080
	background in_ns_as "$HOST" "$LISTENER_USER" "$PYTHON" -c "$ECHO_PROGRAM" 9090
	wait_for "the service on 8080" socket_is_bound "$HOST" tcp 8080
	wait_for "the service on 9090" socket_is_bound "$HOST" tcp 9090
	background in_ns "$PEER" "$PYTHON" -c "$HOLDER_PROGRAM" "$TEST_DIR/remote.control" 198.18.0.1/20 2001:db8::1/15
	background in_ns "$HOST" "$PYTHON" -c "$HOLDER_PROGRAM" "$TEST_DIR/local.control" 127.0.0.1/10 ::1/5
	wait_for "the remote connections" test -S "$TEST_DIR/remote.control"
	wait_for "the local connections" test -S "$TEST_DIR/local.control"
	expect_all_echo "they were opened"
	expect_eq "established connections to 8080" 50 \
		"$(in_ns "$HOST" ss -Htn state established '( sport = :8080 )' | wc -l)"
}

# expect_apply FILE LINES: apply of FILE prints exactly LINES and exits 0.
expect_apply() {
	expect_portredir "$HOST" 0 "$2" -f "$1" apply
}

test_fifty_connections_survive_every_kind_of_change() {
	start_with_held_connections

	write_mapping "$TEST_DIR/moved.conf" 'redirect tcp 80 to 9090' 'redirect tcp 443 to 8443'
	expect_apply "$TEST_DIR/moved.conf" '- redirect tcp 80 to 8080
+ redirect tcp 80 to 9090
+ redirect tcp 443 to 8443
- redirect udp 53 to 5353'
	expect_all_echo "a new target"
	# New connections go to the new target.
	expect_eq "a new remote connection" "9090 hello" "$(in_ns "$PEER" "$PYTHON" -c '
import socket
s = socket.create_connection(("198.18.0.1", 80), timeout=5)
s.sendall(b"hello\n")
print(s.recv(100).decode().strip())')"

	in_ns "$HOST" nft add rule inet portredir prerouting counter
	expect_apply "$TEST_DIR/moved.conf" '~ chain prerouting: recreated (unexpected rule found)'
	expect_all_echo "prerouting was recreated"

	in_ns "$HOST" nft add rule inet portredir output counter
	expect_apply "$TEST_DIR/moved.conf" '~ chain output: recreated (unexpected rule found)'
	expect_all_echo "output was recreated"

	in_ns "$HOST" nft add chain inet portredir foreign
	expect_apply "$TEST_DIR/moved.conf" "~ table inet portredir: recreated (unexpected chain 'foreign' found)"
	expect_all_echo "the table was recreated"

	write_mapping "$TEST_DIR/declared.conf" 'unprivileged_port_start 1000' 'redirect tcp 80 to 9090' \
		'redirect tcp 443 to 8443'
	expect_apply "$TEST_DIR/declared.conf" '~ table inet portredir: recreated (to record the original unprivileged_port_start)
- unprivileged_port_start 1024
+ unprivileged_port_start 1000'
	expect_all_echo "the table was recreated to record the sysctl"

	write_mapping "$TEST_DIR/declared.conf" 'unprivileged_port_start 900' 'redirect tcp 80 to 9090' \
		'redirect tcp 443 to 8443'
	expect_apply "$TEST_DIR/declared.conf" '- unprivileged_port_start 1000
+ unprivileged_port_start 900'
	expect_all_echo "the sysctl changed"

	in_ns "$HOST" nft delete chain inet portredir prerouting
	expect_apply "$TEST_DIR/declared.conf" '~ chain prerouting: created (missing)'
	expect_all_echo "a deleted chain was created again"

	# With no NAT chain at all for a moment, nothing is translated: the
	# connections are left idle meanwhile (no packet of theirs is in
	# flight once their delayed acknowledgements, at most 200 ms, went).
	sleep 0.5
	in_ns "$HOST" nft flush ruleset
	expect_apply "$TEST_DIR/declared.conf" '~ table inet portredir: created (missing)
+ redirect tcp 80 to 9090
+ redirect tcp 443 to 8443'
	expect_all_echo "a flushed ruleset was repaired"
	expect_eq "established connections to 8080" 50 \
		"$(in_ns "$HOST" ss -Htn state established '( sport = :8080 )' | wc -l)"
}

run_tests
