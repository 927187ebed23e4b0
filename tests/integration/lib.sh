# Shared by the integration tests: TAP output, throwaway network
# namespaces that are always removed, and a non-root user for listeners.
# A script defines test_* functions and ends with `run_tests`.
#
# Addresses come from the benchmarking range 198.18.0.0/15 and the
# documentation range 2001:db8::/32 only; traffic never leaves namespaces
# this script made, or loopback.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PORTREDIR=${PORTREDIR:-$PWD/build/portredir}
case $PORTREDIR in /*) ;; *) PORTREDIR=$PWD/$PORTREDIR ;; esac
NETNS_PREFIX="prt$$"
NETNS_CREATED=()
BACKGROUND_PIDS=()
# What a test made outside its namespaces (control groups) and how to undo
# it: commands run last to first once its processes are gone.
CLEANUP_COMMANDS=()
TEST_DIR=$(mktemp -d /tmp/portredir-test.XXXXXX)
chmod 0755 "$TEST_DIR"
# portredir records the maps' elements between runs (src/cache.h): the
# tests keep theirs, which portredir creates on first use, apart from the
# host's /run/portredir.
export PORTREDIR_RUNTIME_DIRECTORY="$TEST_DIR/run"
# The user non-root listeners run as: nobody exists on every Debian system.
LISTENER_USER=${LISTENER_USER:-nobody}

# Runs as the EXIT trap of a test's errexit subshell: every command must
# succeed (|| true), or a killed listener's exit status would become the
# test's and fail it.
cleanup_test() {
	local status=$? pid ns
	for pid in "${BACKGROUND_PIDS[@]+"${BACKGROUND_PIDS[@]}"}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	BACKGROUND_PIDS=()
	for ns in "${NETNS_CREATED[@]+"${NETNS_CREATED[@]}"}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	NETNS_CREATED=()
	local i
	for ((i = ${#CLEANUP_COMMANDS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUP_COMMANDS[i]}" 2>/dev/null || true
	done
	CLEANUP_COMMANDS=()
	return "$status"
}

# on_cleanup COMMAND: runs COMMAND (a string, eval'd) when the test ends,
# after its processes were killed, whether it passed or not.
on_cleanup() {
	CLEANUP_COMMANDS+=("$1")
}

cleanup_all() {
	cleanup_test
	rm -rf "$TEST_DIR"
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

# netns_add NAME: creates namespace $NETNS_PREFIX-NAME with loopback up and
# prints its full name.
netns_add() {
	local ns="$NETNS_PREFIX-$1"
	ip netns add "$ns" || return 1
	NETNS_CREATED+=("$ns")
	ip -n "$ns" link set lo up
	echo "$ns"
}

# in_ns NS COMMAND...: runs COMMAND inside namespace NS.
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# background COMMAND...: starts COMMAND, remembered for cleanup.
background() {
	"$@" &
	BACKGROUND_PIDS+=($!)
}

# wait_for DESCRIPTION COMMAND...: a bounded poll (5 s) for COMMAND to succeed.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 1 100); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	diag "timed out waiting for $what"
	return 1
}

# skip_test REASON: ends the test, reported as skipped for REASON.
skip_test() {
	printf '%s\n' "$*" >"$TEST_DIR/skip-reason"
	exit 77
}

diag() {
	printf '# %s\n' "$*" >&2
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	if [ "$2" != "$3" ]; then
		diag "$1: expected:"
		printf '%s\n' "$2" | sed 's/^/#   /' >&2
		diag "$1: got:"
		printf '%s\n' "$3" | sed 's/^/#   /' >&2
		return 1
	fi
}

# run_tests: runs every test_* function defined by the script (those
# whose names match the extended regular expression $ONLY when it is set),
# each with fresh namespaces, as TAP. Without root, every test is reported
# skipped.
run_tests() {
	local tests=() name number=0 reason="" status
	mapfile -t tests < <(declare -F | awk -v only="${ONLY:-}" '$3 ~ /^test_/ && (only == "" || $3 ~ only) { print $3 }')
	if [ "$(id -u)" -ne 0 ]; then
		reason="needs root for network namespaces (run make check as root)"
	elif ! command -v nft >/dev/null || ! ip netns add "$NETNS_PREFIX-probe" 2>/dev/null; then
		reason="network namespaces or nft are not available here"
	else
		ip netns del "$NETNS_PREFIX-probe"
	fi
	echo "1..${#tests[@]}"
	for name in "${tests[@]}"; do
		number=$((number + 1))
		if [ -n "$reason" ]; then
			echo "ok $number - ${name#test_} # SKIP $reason"
			continue
		fi
		# A subshell with errexit: any failing command fails the test. Not
		# inside an `if`, where bash would ignore errexit.
		rm -f "$TEST_DIR/skip-reason"
		( set -e; trap cleanup_test EXIT; "$name" )
		status=$?
		if [ "$status" -eq 0 ]; then
			echo "ok $number - ${name#test_}"
		elif [ "$status" -eq 77 ] && [ -e "$TEST_DIR/skip-reason" ]; then
			echo "ok $number - ${name#test_} # SKIP $(cat "$TEST_DIR/skip-reason")"
		else
			echo "not ok $number - ${name#test_}"
		fi
		# Whatever the test left behind, even if it was killed.
		ip netns list | awk -v p="$NETNS_PREFIX-" 'index($1, p) == 1 { print $1 }' |
			while read -r ns; do ip netns del "$ns"; done
	done
}

# ---------------------------------------------------------------------------
# Helpers for the integration scripts: namespaces and a two-host topology,
# listeners and clients, running portredir and checking its output, and the
# table portredir must build, loaded by nft, as the oracle.

# The shipped default mapping: tcp 80 -> 8080, tcp 443 -> 8443, udp 443 -> 8443
# (RULES_DIR=... overrides it, e.g. to try the harness with another build).
# As root, portredir refuses files that another user owns or may write: the
# tests read a copy of root's, whoever owns the checkout.
if [ -z "${RULES_DIR:-}" ]; then
	cp -R "$PWD/rules" "$TEST_DIR/rules" && chmod -R go-w "$TEST_DIR/rules"
	[ "$(id -u)" -ne 0 ] || chown -R 0:0 "$TEST_DIR/rules"
	RULES_DIR=$TEST_DIR/rules
fi
# An interpreter any user can run (python3 on PATH may be root's pyenv shim).
PYTHON=/usr/bin/python3

# The table portredir must build for the shipped mapping, for `nft -f`:
# the one docs/kernel.md shows.
CONTRACT_LAYOUT='table inet portredir {
	map tcp_redirects { type inet_service : inet_service; elements = { 80 : 8080, 443 : 8443 } }
	map udp_redirects { type inet_service : inet_service; elements = { 443 : 8443 } }
	set tcp_counts { type inet_service; flags dynamic; }
	set udp_counts { type inet_service; flags dynamic; }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport @tcp_redirects update @tcp_counts { tcp dport counter } redirect to :tcp dport map @tcp_redirects
		fib daddr type local udp dport @udp_redirects update @udp_counts { udp dport counter } redirect to :udp dport map @udp_redirects
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local tcp dport @tcp_redirects update @tcp_counts { tcp dport counter } redirect to :tcp dport map @tcp_redirects
		fib daddr type local udp dport @udp_redirects update @udp_counts { udp dport counter } redirect to :udp dport map @udp_redirects
	}
}'

# The layout before the count sets (before status counted connections):
# a table an earlier portredir made.
LAYOUT_WITHOUT_COUNTS='table inet portredir {
	map tcp_redirects { type inet_service : inet_service; elements = { 80 : 8080, 443 : 8443 } }
	map udp_redirects { type inet_service : inet_service; elements = { 443 : 8443 } }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local meta l4proto tcp redirect to :tcp dport map @tcp_redirects
		fib daddr type local meta l4proto udp redirect to :udp dport map @udp_redirects
	}
	chain output {
		type nat hook output priority -100; policy accept;
		fib daddr type local meta l4proto tcp redirect to :tcp dport map @tcp_redirects
		fib daddr type local meta l4proto udp redirect to :udp dport map @udp_redirects
	}
}'

# table_text TCP_ELEMENTS UDP_ELEMENTS: the managed table exactly as
# table_of lists it (nftables 1.0.6), with the given map elements ("80 :
# 8080, 443 : 8443"); an empty map has no elements line.
table_text() {
	local tcp=$1 udp=$2
	printf 'table inet portredir {\n'
	printf '\tmap tcp_redirects {\n\t\ttype inet_service : inet_service\n'
	[ -z "$tcp" ] || printf '\t\telements = { %s }\n' "$tcp"
	printf '\t}\n\n'
	printf '\tmap udp_redirects {\n\t\ttype inet_service : inet_service\n'
	[ -z "$udp" ] || printf '\t\telements = { %s }\n' "$udp"
	printf '\t}\n\n'
	printf '\tset %s_counts {\n\t\ttype inet_service\n\t\tsize 65535\n\t\tflags dynamic\n\t}\n\n' tcp udp
	local chain priority protocol
	for chain in prerouting output; do
		case $chain in
		prerouting) priority=dstnat ;;
		output) priority=-100 ;;
		esac
		printf '\tchain %s {\n' "$chain"
		printf '\t\ttype nat hook %s priority %s; policy accept;\n' "$chain" "$priority"
		for protocol in tcp udp; do
			printf '\t\tfib daddr type local %s dport @%s_redirects update @%s_counts { %s dport counter } redirect to :%s dport map @%s_redirects\n' \
				"$protocol" "$protocol" "$protocol" "$protocol" "$protocol" "$protocol"
		done
		printf '\t}\n'
		[ "$chain" = output ] || printf '\n'
	done
	printf '}\n'
}

# The managed table for the shipped mapping, as nft lists it.
EXPECTED_TABLE=$(table_text '80 : 8080, 443 : 8443' '443 : 8443')

# The change lines of `diff`/`apply` when the whole table is missing and
# the shipped mapping is wanted.
CREATE_ALL_LINES='~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080
+ redirect tcp 443 to 8443
+ redirect udp 443 to 8443'

# netns_make VAR NAME: like netns_add, but in the current shell (so the
# namespace is remembered for cleanup) and stores its name in VAR.
netns_make() {
	netns_add "$2" >/dev/null || return 1
	printf -v "$1" '%s' "$NETNS_PREFIX-$2"
}

# topology_host_peer: namespaces $HOST and $PEER joined by a veth pair,
# 198.18.0.1/24 + 2001:db8::1/64 on HOST, 198.18.0.2/24 + 2001:db8::2/64 on
# PEER; IPv6 addresses without duplicate address detection, usable at once.
topology_host_peer() {
	netns_make HOST host || return 1
	netns_make PEER peer || return 1
	ip -n "$HOST" link add veth0 type veth peer name veth0 netns "$PEER" || return 1
	ip -n "$HOST" addr add 198.18.0.1/24 dev veth0 || return 1
	ip -n "$HOST" addr add 2001:db8::1/64 dev veth0 nodad || return 1
	ip -n "$PEER" addr add 198.18.0.2/24 dev veth0 || return 1
	ip -n "$PEER" addr add 2001:db8::2/64 dev veth0 nodad || return 1
	ip -n "$HOST" link set veth0 up || return 1
	ip -n "$PEER" link set veth0 up || return 1
	wait_for "veth0 up in both namespaces" veth_is_up
}

veth_is_up() {
	ip -n "$HOST" -o link show veth0 | grep -q 'state UP' &&
		ip -n "$PEER" -o link show veth0 | grep -q 'state UP'
}

# in_ns_as NS USER COMMAND...: runs COMMAND in NS as USER (its own group,
# no supplementary groups) with no capabilities at all.
in_ns_as() {
	local ns=$1 user=$2
	shift 2
	ip netns exec "$ns" setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
		--inh-caps=-all --bounding-set=-all "$@"
}

# A dual-stack server answering every TCP connection or UDP datagram with
# one fixed line.
LISTENER_PROGRAM='
import socket, sys
protocol, port, answer = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode() + b"\n"
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", port))
if protocol == "tcp":
    s.listen(64)
    while True:
        connection, _ = s.accept()
        connection.sendall(answer)
        connection.close()
else:
    while True:
        _, client = s.recvfrom(65535)
        s.sendto(answer, client)
'

# start_listener NS USER PROTO PORT ANSWER: a server (above) in NS, as USER,
# on [::]:PORT (IPv4 too); returns once the socket is bound.
start_listener() {
	local ns=$1 user=$2 protocol=$3 port=$4 answer=$5
	# ip netns exec and setpriv exec, so the remembered pid is the server's.
	background ip netns exec "$ns" setpriv --reuid="$user" --regid="$(id -g "$user")" \
		--clear-groups "$PYTHON" -c "$LISTENER_PROGRAM" "$protocol" "$port" "$answer"
	wait_for "$protocol listener on port $port in $ns" socket_is_bound "$ns" "$protocol" "$port"
}

socket_is_bound() {
	local option=-t
	[ "$2" = tcp ] || option=-u
	[ -n "$(ip netns exec "$1" ss -Hln "$option" "sport = :$3")" ]
}

# A client: prints the server's answer line, "refused", or "timeout".
CLIENT_PROGRAM='
import socket, sys
protocol, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET,
                  socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
s.settimeout(2)
try:
    s.connect((address, port))
    data = b""
    if protocol == "udp":
        s.send(b"hello\n")
        data = s.recv(65535)
    else:
        while True:
            chunk = s.recv(65535)
            if not chunk:
                break
            data += chunk
    print(data.decode().strip())
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
'

# ask NS PROTO ADDRESS PORT: what a client in NS gets from ADDRESS:PORT.
ask() {
	ip netns exec "$1" timeout 5 "$PYTHON" -c "$CLIENT_PROGRAM" "$2" "$3" "$4"
}

# expect_answer NS PROTO ADDRESS PORT EXPECTED
expect_answer() {
	local answer
	answer=$(ask "$1" "$2" "$3" "$4") || { diag "client failed: $2 $3 port $4 from $1"; return 1; }
	expect_eq "answer of $2 $3 port $4 to a client in ${1#"$NETNS_PREFIX"-}" "$5" "$answer"
}

# run_captured COMMAND...: runs COMMAND and sets RUN_OUT, RUN_ERR (without
# trailing newlines) and RUN_STATUS, whatever the exit status.
run_captured() {
	local err_file
	err_file=$(mktemp "$TEST_DIR/stderr.XXXXXX")
	RUN_STATUS=0
	RUN_OUT=$("$@" 2>"$err_file") || RUN_STATUS=$?
	RUN_ERR=$(cat "$err_file")
	rm -f "$err_file"
}

# portredir_in NS ARGUMENTS...: runs portredir in NS.
portredir_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$PORTREDIR" "$@"
}

# expect_portredir NS STATUS STDOUT ARGUMENTS...: runs portredir in NS and
# checks its exit status, its exact stdout, and that stderr is empty.
expect_portredir() {
	local ns=$1 status=$2 out=$3
	shift 3
	run_captured portredir_in "$ns" "$@"
	if [ "$RUN_STATUS" != "$status" ] || [ "$RUN_OUT" != "$out" ] || [ -n "$RUN_ERR" ]; then
		diag "portredir $*: expected exit $status, got $RUN_STATUS"
		expect_eq "portredir $* stdout" "$out" "$RUN_OUT" || true
		expect_eq "portredir $* stderr" "" "$RUN_ERR" || true
		return 1
	fi
}

# expect_show NS EXPECTED: `portredir show` exits 0, prints nothing on
# stderr, and its redirect lines are EXPECTED. Its unprivileged_port_start
# line (printed when declared) is not checked here.
expect_show() {
	local redirects
	run_captured portredir_in "$1" -f "$RULES_DIR" show
	redirects=$(grep -v '^unprivileged_port_start ' <<<"$RUN_OUT" || true)
	expect_eq "exit status of show" 0 "$RUN_STATUS" || return 1
	expect_eq "stderr of show" "" "$RUN_ERR" || return 1
	expect_eq "redirect lines of show" "$2" "$redirects"
}

# expect_json WHAT EXPECTED ACTUAL: ACTUAL is exactly one JSON document
# equal to EXPECTED (as data: key order and spacing do not matter).
expect_json() {
	"$PYTHON" -c '
import json, sys
what, expected, actual = sys.argv[1:]
try:
    document = json.loads(actual)
except ValueError as error:
    sys.exit("# %s: not one JSON document (%s):\n#   %s" % (what, error, actual))
if document != json.loads(expected):
    sys.exit("# %s: expected:\n#   %s\n# %s: got:\n#   %s" % (what, expected, what, actual))
' "$1" "$2" "$3"
}

# table_of NS: the managed table as nft lists it, without the count sets'
# elements, which traffic adds (fails when it is missing).
table_of() {
	local listing
	listing=$(ip netns exec "$1" nft list table inet portredir) || return 1
	awk '/^\tset (tcp|udp)_counts \{$/ { counts = 1 }
		counts && /^\t\telements = / { skipping = 1 }
		/^\t\}$/ { counts = skipping = 0 }
		!skipping { print }' <<<"$listing"
}

# expect_table NS EXPECTED_TEXT
expect_table() {
	local table
	table=$(table_of "$1") || { diag "table inet portredir is missing"; return 1; }
	expect_eq "nft list table inet portredir" "$2" "$table"
}

# expect_table_objects NS EXPECTED_TEXT: like expect_table, but the maps
# and chains may be listed in any order. nft lists them in the order they
# were created, so a repair that recreates one chain or map, and only that
# one (only the difference is sent), moves it to the
# end; the ruleset means the same.
expect_table_objects() {
	local table
	table=$(table_of "$1") || { diag "table inet portredir is missing"; return 1; }
	[ "$(sort_table_objects <<<"$table")" = "$(sort_table_objects <<<"$2")" ] ||
		expect_eq "nft list table inet portredir (maps and chains in any order)" "$2" "$table"
}

# sort_table_objects: a table listing on stdin with its blank-line
# separated objects sorted.
sort_table_objects() {
	"$PYTHON" -c '
import sys
lines = sys.stdin.read().rstrip("\n").split("\n")
head, body, tail = lines[0], "\n".join(lines[1:-1]), lines[-1]
print("\n".join([head] + sorted(body.split("\n\n")) + [tail]))'
}

# expect_no_table NS
expect_no_table() {
	if ip netns exec "$1" nft list table inet portredir >/dev/null 2>&1; then
		diag "table inet portredir still exists"
		return 1
	fi
}

# ruleset_save NS FILE: the whole ruleset of NS with handles, so that a
# deleted and recreated object differs too.
ruleset_save() {
	ip netns exec "$1" nft -a list ruleset >"$2"
}

# expect_same_file WHAT BEFORE AFTER: byte-identical, or a diff as diagnostic.
expect_same_file() {
	if ! cmp -s "$2" "$3"; then
		diag "$1 changed:"
		diff -u "$2" "$3" | sed 's/^/#   /' >&2
		return 1
	fi
}

# write_mapping FILE LINE...: a mapping file with one line per argument.
write_mapping() {
	local file=$1
	shift
	printf '%s\n' "$@" >"$file" && chmod 0644 "$file"
}

# load_contract_layout NS: what portredir must build, loaded by nft itself.
load_contract_layout() {
	printf '%s\n' "$CONTRACT_LAYOUT" | ip netns exec "$1" nft -f -
}

# A server on one address (IPv4 or IPv6, "::" with IPV6_V6ONLY when asked),
# for the tests of status and of held connections. Mode "close" answers
# each TCP connection with one line and closes it, as LISTENER_PROGRAM
# does; mode "hold" keeps each connection open and answers every line
# received with "ANSWER still answering". UDP datagrams get the answer.
SERVER_PROGRAM='
import socket, sys, threading
protocol, address, port, answer, v6only, mode = sys.argv[1:7]
family = socket.AF_INET6 if ":" in address else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
if family == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((address, int(port)))
def hold(connection):
    lines = connection.makefile("rb")
    for _ in lines:
        connection.sendall(answer.encode() + b" still answering\n")
    connection.close()
if protocol == "udp":
    while True:
        _, client = s.recvfrom(65535)
        s.sendto(answer.encode() + b"\n", client)
s.listen(64)
while True:
    connection, _ = s.accept()
    if mode == "hold":
        threading.Thread(target=hold, args=(connection,), daemon=True).start()
    else:
        connection.sendall(answer.encode() + b"\n")
        connection.close()
'

# start_server NS USER PROTO ADDRESS PORT ANSWER [v6only] [hold]: the server
# above in NS as USER; returns once the socket is bound.
start_server() {
	local ns=$1 user=$2 protocol=$3 address=$4 port=$5 answer=$6 v6only=0 mode=close
	[ "${7:-}" != v6only ] || v6only=1
	[ "${8:-${7:-}}" != hold ] || mode=hold
	background ip netns exec "$ns" setpriv --reuid="$user" --regid="$(id -g "$user")" \
		--clear-groups "$PYTHON" -c "$SERVER_PROGRAM" "$protocol" "$address" "$port" "$answer" \
		"$v6only" "$mode"
	wait_for "$protocol server on $address port $port in $ns" socket_is_bound "$ns" "$protocol" "$port"
}

# Opens COUNT TCP connections to ADDRESS PORT (default 1), writing
# "connected" to OUT; at each SIGUSR1 sends a line on each and writes what
# comes back ("closed", "reset" or "timeout" if nothing); at SIGUSR2 closes
# them and exits. Signals, not a pipe: a pipe's writer would be inherited
# by the next such process, and this one would never see its end.
HOLD_PROGRAM='
import signal, socket, sys
out = open(sys.argv[1], "w", buffering=1)
address, port = sys.argv[2], int(sys.argv[3])
count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
connections = []
for _ in range(count):
    c = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    c.settimeout(5)
    c.connect((address, port))
    connections.append(c)
def poke(*_):
    for c in connections:
        try:
            c.sendall(b"x\n")
            line = c.makefile("rb").readline().decode().strip() or "closed"
        except (ConnectionResetError, BrokenPipeError):
            line = "reset"
        except socket.timeout:
            line = "timeout"
        out.write(line + "\n")
def release(*_):
    for c in connections:
        c.close()
    sys.exit(0)
signal.signal(signal.SIGUSR1, poke)
signal.signal(signal.SIGUSR2, release)
out.write("connected\n")
while True:
    signal.pause()
'

# hold NAME NS ADDRESS PORT [COUNT]: HOLD_PROGRAM in NS as root, in the
# background; returns once its connections are open.
hold() {
	local name=$1 ns=$2
	shift 2
	: >"$TEST_DIR/$name.out"
	background ip netns exec "$ns" "$PYTHON" -c "$HOLD_PROGRAM" "$TEST_DIR/$name.out" "$@"
	printf -v "HOLD_PID_$name" %s "${BACKGROUND_PIDS[-1]}"
	wait_for "$name connected" grep -qx connected "$TEST_DIR/$name.out"
}

has_lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# poke NAME EXPECTED: a line on each of NAME's connections; EXPECTED is
# what came back, one line per connection.
poke() {
	local pid_variable="HOLD_PID_$1" lines
	lines=$(($(wc -l <"$TEST_DIR/$1.out") + $(wc -l <<<"$2")))
	kill -USR1 "${!pid_variable}"
	wait_for "$1 answered" has_lines "$TEST_DIR/$1.out" "$lines"
	expect_eq "what $1's connections got" "$2" "$(tail -n "$(wc -l <<<"$2")" "$TEST_DIR/$1.out")"
}

# release NAME: closes NAME's connections; returns once it has ended.
release() {
	local pid_variable="HOLD_PID_$1"
	kill -USR2 "${!pid_variable}"
	wait "${!pid_variable}"
}
