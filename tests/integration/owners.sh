#!/bin/bash
# Owner clauses, enforced by the kernel: with real control groups (the
# host's cgroup v2 hierarchy as mounted, hybrid here at
# /sys/fs/cgroup/unified, and alone at /sys/fs/cgroup in a private mount
# namespace, a unified layout), listeners started inside their groups as
# nobody, clients in a peer namespace and on the host. In every case the
# attacker (nobody too, in another group) gets 0 connections and 0
# datagrams, its clients are refused at once (a reset, ICMP port
# unreachable), and the owner is reached. Groups are made under a slice of
# the test's own, portredir-test-PID.slice, and removed with it.
. "$(dirname "$0")/lib.sh"

# The host's cgroup v2 mount (a root of "/"), or none.
CGROUP_MOUNT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") print $5; break } }' \
	/proc/self/mountinfo | head -n 1)
SLICE=portredir-test-$$.slice
# The owner unit, found by name in the slice tree.
UNIT=portredir-test-$$-web.service
# The test-only build, whose faults make inotify unusable (src/fault.h).
FAULTY=${FAULTY:-$(dirname "$PORTREDIR")/faults/portredir}
OWNER_GROUP=$SLICE/$UNIT
ATTACKER_GROUP=$SLICE/attacker.scope

# The listener: PROTO FAMILY ADDRESS PORT ANSWER LOG READY GO. FAMILY is
# 4, 6only or dual. One line in LOG per connection accepted or datagram
# received; READY written once bound; with GO other than "-", the socket
# is made only once that file exists (a process moved into its group
# first). ANSWER "echo" echoes every line of a connection back.
RECORDING_LISTENER='
import os, socket, sys, threading, time
protocol, family, address, port, answer, log, ready, go = sys.argv[1:9]
while go != "-" and not os.path.exists(go):
    time.sleep(0.002)
kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET if family == "4" else socket.AF_INET6, kind)
if family != "4":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if family == "6only" else 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((address, int(port)))
if protocol == "tcp":
    s.listen(64)
records = open(log, "a", buffering=1)
open(ready, "w").write("ready\n")
def echo(connection):
    for line in connection.makefile("rb"):
        connection.sendall(line)
while True:
    if protocol == "tcp":
        connection, _ = s.accept()
        records.write("connection\n")
        if answer == "echo":
            threading.Thread(target=echo, args=(connection,), daemon=True).start()
        else:
            connection.sendall(answer.encode() + b"\n")
            connection.close()
    else:
        _, client = s.recvfrom(65535)
        records.write("datagram\n")
        s.sendto(answer.encode() + b"\n", client)
'

skip_without_cgroups() {
	[ -n "$CGROUP_MOUNT" ] || skip_test "no cgroup v2 hierarchy is mounted here"
}

# make_group PATH: a group PATH below the hierarchy's root, removed when
# the test ends (its own groups first).
make_group() {
	local group=$CGROUP_MOUNT/$1
	[ -d "$CGROUP_MOUNT/$SLICE" ] || { mkdir "$CGROUP_MOUNT/$SLICE" && on_cleanup "remove_group $SLICE"; }
	mkdir "$group"
	on_cleanup "remove_group $1"
}

# remove_group PATH: the group and any below it, once their processes
# have gone (a killed process leaves its group a moment later).
remove_group() {
	local group=$CGROUP_MOUNT/$1 i
	[ -d "$group" ] || return 0
	for i in $(seq 1 100); do
		find "$group" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$group" ] || return 0
		sleep 0.02
	done
	diag "could not remove the group $group"
	return 1
}

group_id() {
	stat -c %i "$CGROUP_MOUNT/$1"
}

# listen NAME GROUP PROTO FAMILY ADDRESS PORT ANSWER [GO]: a recording
# listener as nobody in the host namespace, its process put into GROUP
# before it execs (before it makes any socket). NAME names its log
# ($TEST_DIR/NAME.log) and its ready file. Returns once it is bound,
# unless it waits for GO.
listen() {
	local name=$1 group=$2 protocol=$3 family=$4 address=$5 port=$6 answer=$7 go=${8:--}
	local log=$TEST_DIR/$name.log ready=$TEST_DIR/$name.ready
	# Made here, as the listener may not create files in TEST_DIR.
	: >"$log"
	: >"$ready"
	chmod 0666 "$log" "$ready"
	background sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CGROUP_MOUNT/$group" \
		nsenter --net="/run/netns/$HOST" setpriv --reuid="$LISTENER_USER" --regid="$(id -g "$LISTENER_USER")" \
		--clear-groups "$PYTHON" -c "$RECORDING_LISTENER" "$protocol" "$family" "$address" "$port" "$answer" \
		"$log" "$ready" "$go"
	LAST_LISTENER=$!
	[ "$go" != - ] || wait_for "listener $name bound" test -s "$ready"
}

# records NAME: how many connections or datagrams listener NAME got.
records() {
	wc -l <"$TEST_DIR/$1.log"
}

expect_no_records() {
	expect_eq "connections and datagrams the attacker $1 got" 0 "$(records "$1")"
}

# portredir as the host namespace's administrator, seeing the hierarchy
# as CGROUP_LAYOUT says: "mounted" (the host's mount table), "unified"
# (cgroup2 alone at /sys/fs/cgroup, in a private mount namespace), or
# "none" (no cgroup file system at all).
CGROUP_LAYOUT=mounted
owned_portredir() {
	case $CGROUP_LAYOUT in
	mounted)
		nsenter --net="/run/netns/$HOST" "$PORTREDIR" "$@"
		;;
	unified)
		unshare -m --propagation private sh -c \
			'umount -R -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec nsenter --net="$0" "$@"' \
			"/run/netns/$HOST" "$PORTREDIR" "$@"
		;;
	none)
		unshare -m --propagation private sh -c \
			'umount -R -l /sys/fs/cgroup 2>/dev/null; exec nsenter --net="$0" "$@"' \
			"/run/netns/$HOST" "$PORTREDIR" "$@"
		;;
	esac
}

# nft where it lists groups by their paths from the root: in a private
# mount namespace with cgroup2 at /sys/fs/cgroup, where nft looks.
nft_in_host() {
	unshare -m --propagation private sh -c \
		'umount -R -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec nsenter --net="$0" nft "$@"' \
		"/run/netns/$HOST" "$@"
}

# mapping LINE...: the test's mapping file, root's.
mapping() {
	write_mapping "$TEST_DIR/rules.conf" "$@"
}

# expect_owned STATUS STDOUT STDERR ARGUMENTS...: owned_portredir's exact
# exit status and output.
expect_owned() {
	local status=$1 out=$2 err=$3
	shift 3
	run_captured owned_portredir "$@"
	expect_eq "exit status of portredir $*" "$status" "$RUN_STATUS" &&
		expect_eq "stdout of portredir $*" "$out" "$RUN_OUT" &&
		expect_eq "stderr of portredir $*" "$err" "$RUN_ERR"
}

# expect_answers NS PROTO PORT EXPECTED ADDRESS...: what a client in NS
# gets from each address.
expect_answers() {
	local ns=$1 protocol=$2 port=$3 expected=$4 address
	shift 4
	for address in "$@"; do
		expect_answer "$ns" "$protocol" "$address" "$port" "$expected"
	done
}

setup_hosts() {
	skip_without_cgroups
	topology_host_peer
	make_group "$OWNER_GROUP"
	make_group "$ATTACKER_GROUP"
}

REMOTE_ADDRESSES=(198.18.0.1 2001:db8::1)
LOCAL_ADDRESSES=(127.0.0.1 ::1 198.18.0.1 2001:db8::1)

# The attacker bound the target first, on every address; the owner is not
# running: every client of 80 is refused, for TCP and UDP, and the
# attacker gets nothing. Then the attacker quits, the owner starts in its
# group, apply puts its ID in place, and every client reaches it.
attacker_first() {
	CGROUP_LAYOUT=$1
	setup_hosts
	rmdir "$CGROUP_MOUNT/$OWNER_GROUP"
	mapping "redirect tcp,udp 80 to 8080 for $UNIT"
	listen attacker "$ATTACKER_GROUP" tcp dual :: 8080 attacker
	local attacker_tcp=$LAST_LISTENER
	listen attacker-udp "$ATTACKER_GROUP" udp dual :: 8080 attacker
	local attacker_udp=$LAST_LISTENER
	expect_owned 0 "~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080 for $UNIT
+ redirect udp 80 to 8080 for $UNIT" "portredir: warning: owner $UNIT is not running: tcp 80 and udp 80 refuse connections" \
		-f "$TEST_DIR/rules.conf" apply
	expect_answers "$PEER" tcp 80 refused "${REMOTE_ADDRESSES[@]}"
	expect_answers "$HOST" tcp 80 refused "${LOCAL_ADDRESSES[@]}"
	expect_answers "$PEER" udp 80 refused "${REMOTE_ADDRESSES[@]}"
	expect_answers "$HOST" udp 80 refused 127.0.0.1 ::1
	expect_no_records attacker
	expect_no_records attacker-udp
	kill "$attacker_tcp" "$attacker_udp"
	wait "$attacker_tcp" "$attacker_udp" 2>/dev/null || true
	make_group "$OWNER_GROUP"
	listen owner "$OWNER_GROUP" tcp dual :: 8080 owner
	listen owner-udp "$OWNER_GROUP" udp dual :: 8080 owner
	expect_owned 0 "~ chain owner_check: updated (accepting at level 2)
~ owner $UNIT: updated (group /$OWNER_GROUP)" "" -f "$TEST_DIR/rules.conf" apply
	expect_answers "$PEER" tcp 80 owner "${REMOTE_ADDRESSES[@]}"
	expect_answers "$HOST" tcp 80 owner "${LOCAL_ADDRESSES[@]}"
	expect_answers "$PEER" udp 80 owner "${REMOTE_ADDRESSES[@]}"
	expect_answers "$HOST" udp 80 owner 127.0.0.1 ::1
	expect_no_records attacker
	expect_no_records attacker-udp
}

test_attacker_bound_first_gets_nothing_and_the_owner_is_reached_later_as_mounted() {
	attacker_first mounted
}

test_attacker_bound_first_gets_nothing_and_the_owner_is_reached_later_unified() {
	attacker_first unified
}

# The owner on 0.0.0.0, the attacker on [::] IPv6-only: IPv6 clients are
# refused, IPv4 clients reach the owner.
ipv6_only_attacker() {
	CGROUP_LAYOUT=$1
	setup_hosts
	mapping "redirect tcp 80 to 8080 for $UNIT"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	listen attacker "$ATTACKER_GROUP" tcp 6only :: 8080 attacker
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_answers "$PEER" tcp 80 owner 198.18.0.1
	expect_answers "$HOST" tcp 80 owner 127.0.0.1 198.18.0.1
	expect_answers "$PEER" tcp 80 refused 2001:db8::1
	expect_answers "$HOST" tcp 80 refused ::1 2001:db8::1
	expect_no_records attacker
	expect_eq "connections the owner got" 3 "$(records owner)"
}

test_ipv6_only_attacker_gets_nothing_as_mounted() {
	ipv6_only_attacker mounted
}

test_ipv6_only_attacker_gets_nothing_unified() {
	ipv6_only_attacker unified
}

# The owner on the host's own address, the attacker on loopback, where
# local clients are redirected: they are refused, remote clients reach
# the owner.
test_loopback_attacker_gets_no_local_clients() {
	setup_hosts
	mapping "redirect tcp 80 to 8080 for cgroup /$OWNER_GROUP"
	listen owner "$OWNER_GROUP" tcp 4 198.18.0.1 8080 owner
	listen attacker "$ATTACKER_GROUP" tcp 4 127.0.0.1 8080 attacker
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_answers "$HOST" tcp 80 refused 127.0.0.1 198.18.0.1
	expect_answers "$PEER" tcp 80 owner 198.18.0.1
	expect_no_records attacker
}

# QUIC's datagrams: the owner's and the attacker's sockets on 8443 in the
# two families, each way round.
test_udp_reaches_only_the_owner_in_both_families() {
	setup_hosts
	mapping "redirect tcp,udp 443 to 8443 for $UNIT"
	listen owner "$OWNER_GROUP" udp 4 0.0.0.0 8443 owner
	listen attacker "$ATTACKER_GROUP" udp 6only :: 8443 attacker
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_answers "$PEER" udp 443 owner 198.18.0.1
	expect_answers "$HOST" udp 443 owner 127.0.0.1
	expect_answers "$PEER" udp 443 refused 2001:db8::1
	expect_answers "$HOST" udp 443 refused ::1
	expect_no_records attacker
	kill "${BACKGROUND_PIDS[@]}"
	wait "${BACKGROUND_PIDS[@]}" 2>/dev/null || true
	BACKGROUND_PIDS=()
	listen owner6 "$OWNER_GROUP" udp 6only :: 8443 owner
	listen attacker4 "$ATTACKER_GROUP" udp 4 0.0.0.0 8443 attacker
	expect_answers "$PEER" udp 443 owner 2001:db8::1
	expect_answers "$HOST" udp 443 owner ::1
	expect_answers "$PEER" udp 443 refused 198.18.0.1
	expect_answers "$HOST" udp 443 refused 127.0.0.1
	expect_no_records attacker4
}

# A client in PEER trying IPv4 and IPv6 every 10 ms for at most LIMIT ms:
# it writes to FILE the time (in ms since the epoch) IPv4 first reached
# the owner, and fails if IPv6 (the attacker's) ever answered anything but
# a refusal, or IPv4 anything but a refusal or the owner.
RESTART_CLIENT='
import socket, sys, time
limit, file = int(sys.argv[1]) / 1000.0, sys.argv[2]
start = time.monotonic()
def ask(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect((address, 80))
        return s.recv(100).decode().strip()
    except (ConnectionRefusedError, ConnectionResetError):
        return "refused"
    except socket.timeout:
        return "timeout"
    finally:
        s.close()
while time.monotonic() - start < limit:
    if ask(socket.AF_INET6, "2001:db8::1") != "refused":
        sys.exit("an IPv6 client was not refused")
    answer = ask(socket.AF_INET, "198.18.0.1")
    if answer == "owner":
        open(file, "w").write("%d\n" % int(time.time() * 1000))
        sys.exit(0)
    if answer != "refused":
        sys.exit("an IPv4 client got %r" % answer)
    time.sleep(0.01)
sys.exit("the owner was not reached within %d ms" % (limit * 1000))
'

# The owner starting again: a new group, its process moved in before it
# makes its socket, while a client tries all along. Sets created and
# reached (ms since the epoch).
# Owner clauses combine with every scope (issue 16): the gate checks the
# port whichever scope redirected it, so the owner is reached through each
# and the attacker, bound to one scope's target, gets nothing.
test_owners_combine_with_every_scope() {
	setup_hosts
	ip -n "$HOST" addr add 198.18.0.3/24 dev veth0
	mapping "redirect tcp 80 to 8081 on 198.18.0.3 for $UNIT" "redirect tcp 80 to 8082 ipv6 for $UNIT" \
		"redirect tcp 80 to 8083 iif veth0 ipv4 for $UNIT"
	listen owner-on "$OWNER_GROUP" tcp dual :: 8081 owner-on
	listen attacker "$ATTACKER_GROUP" tcp dual :: 8082 attacker
	listen owner-iif "$OWNER_GROUP" tcp dual :: 8083 owner-iif
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_answers "$PEER" tcp 80 owner-on 198.18.0.3
	expect_answers "$HOST" tcp 80 owner-on 198.18.0.3
	expect_answers "$PEER" tcp 80 owner-iif 198.18.0.1
	expect_answers "$PEER" tcp 80 refused 2001:db8::1
	expect_answers "$HOST" tcp 80 refused ::1
	expect_no_records attacker
	expect_owned 0 "redirect tcp 80 to 8082 ipv6 for $UNIT
redirect tcp 80 to 8083 iif veth0 ipv4 for $UNIT
redirect tcp 80 to 8081 on 198.18.0.3 for $UNIT" "" show
	expect_owned 0 "" "" -f "$TEST_DIR/rules.conf" diff
	expect_eq "elements of tcp_owned" '		elements = { 80 comment "'"$UNIT"'" }' \
		"$(nft_in_host list set inet portredir tcp_owned | grep elements)"
}

restart_owner() {
	local client
	rm -f "$TEST_DIR/go" "$TEST_DIR/reached"
	listen owner-again "$SLICE" tcp 4 0.0.0.0 8080 owner "$TEST_DIR/go"
	ip netns exec "$PEER" "$PYTHON" -c "$RESTART_CLIENT" 5000 "$TEST_DIR/reached" &
	client=$!
	sleep 0.2
	mkdir "$CGROUP_MOUNT/$OWNER_GROUP"
	created=$(($(date +%s%N) / 1000000))
	echo "$LAST_LISTENER" >"$CGROUP_MOUNT/$OWNER_GROUP/cgroup.procs"
	touch "$TEST_DIR/go"
	wait "$client"
	reached=$(cat "$TEST_DIR/reached")
}

# Under watch, a restart: the group removed, a new one of the same name
# made, a new ID. The owner is reached again within a second of the new
# group, and the attacker (IPv6-only on the target all along) gets
# nothing, before, during or after.
test_owner_restarted_under_watch_is_reached_again_within_a_second() {
	local before created reached
	setup_hosts
	mapping "redirect tcp 80 to 8080 for $UNIT"
	listen attacker "$ATTACKER_GROUP" tcp 6only :: 8080 attacker
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	local owner_pid=$LAST_LISTENER
	background owned_portredir -f "$TEST_DIR/rules.conf" watch 2>"$TEST_DIR/watch.log"
	wait_for "watch to apply the mapping" grep -q 'watching' "$TEST_DIR/watch.log"
	expect_answers "$PEER" tcp 80 owner 198.18.0.1
	before=$(group_id "$OWNER_GROUP")
	# The service stops: its process goes, then its group.
	kill "$owner_pid"
	wait "$owner_pid" 2>/dev/null || true
	remove_group "$OWNER_GROUP"
	wait_for "watch to clear the stopped owner" grep -q "owner $UNIT: cleared (not running)" "$TEST_DIR/watch.log"
	restart_owner
	diag "the owner was reached $((reached - created)) ms after its new group was made"
	[ "$((reached - created))" -lt 1000 ]
	[ "$(group_id "$OWNER_GROUP")" != "$before" ]
	grep -q "an owner's group came or went: applied 2 changes: ~ chain owner_check: updated (accepting at level 2); ~ owner $UNIT: updated (group /$OWNER_GROUP)" \
		"$TEST_DIR/watch.log"
	expect_no_records attacker
}

# The same where inotify cannot watch the hierarchy (the test-only build
# makes it so): watch looks the groups up every 250 ms, and the owner is
# still reached within a second of its new group.
test_owner_restarted_while_watch_polls_is_reached_within_a_second() {
	local created reached
	[ -x "$FAULTY" ] || skip_test "no fault-injecting build ($FAULTY; make tests builds it)"
	setup_hosts
	mapping "redirect tcp 80 to 8080 for $UNIT"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	local owner_pid=$LAST_LISTENER
	background env PORTREDIR_FAULTS=group-inotify nsenter --net="/run/netns/$HOST" "$FAULTY" \
		-f "$TEST_DIR/rules.conf" watch 2>"$TEST_DIR/watch.log"
	wait_for "watch to apply the mapping" grep -q 'watching' "$TEST_DIR/watch.log"
	grep -qxF "portredir: warning: cannot watch the owners' groups with inotify (Too many open files); looking them up every 250 ms instead" \
		"$TEST_DIR/watch.log"
	expect_answers "$PEER" tcp 80 owner 198.18.0.1
	kill "$owner_pid"
	wait "$owner_pid" 2>/dev/null || true
	remove_group "$OWNER_GROUP"
	wait_for "watch to clear the stopped owner" grep -q "owner $UNIT: cleared (not running)" "$TEST_DIR/watch.log"
	restart_owner
	diag "polling: the owner was reached $((reached - created)) ms after its new group was made"
	[ "$((reached - created))" -lt 1000 ]
	[ "$(grep -c 'cannot watch the owners' "$TEST_DIR/watch.log")" -eq 1 ]
}

# A long-lived connection to the owner, through port 80, and what each
# apply changes around it: it keeps working, as the gate looks only at new
# connections.
HELD_CLIENT='
import os, socket, sys, time
directory = sys.argv[1]
s = socket.create_connection(("198.18.0.1", 80), timeout=5)
step = 1
while True:
    while not os.path.exists("%s/step-%d" % (directory, step)):
        time.sleep(0.01)
    s.sendall(b"line %d\n" % step)
    answer = s.recv(100).decode().strip()
    with open("%s/held.log" % directory, "a") as log:
        log.write(answer + "\n")
    step += 1
'

# held_step N: the held connection's Nth exchange, which must work.
held_step() {
	touch "$TEST_DIR/step-$1"
	wait_for "exchange $1 on the held connection" grep -qx "line $1" "$TEST_DIR/held.log"
}

test_an_open_connection_survives_every_apply() {
	setup_hosts
	make_group "$SLICE/other.service"
	mapping "redirect tcp 80 to 8080"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 echo
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	background ip netns exec "$PEER" "$PYTHON" -c "$HELD_CLIENT" "$TEST_DIR"
	held_step 1
	# An owner clause added while it is open.
	mapping "redirect tcp 80 to 8080 for $UNIT"
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	held_step 2
	# Another owner, whose group the listener is not in: new connections
	# are refused, the open one goes on.
	mapping "redirect tcp 80 to 8080 for cgroup /$SLICE/other.service" "redirect tcp 81 to 8081"
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
	held_step 3
	# The owner clause gone, the gate with it.
	mapping "redirect tcp 80 to 8080"
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	held_step 4
	[ "$(cat "$TEST_DIR/held.log")" = "line 1
line 2
line 3
line 4" ]
}

# The documented layout, exactly as nft lists it (groups by their paths,
# where nft finds the hierarchy at /sys/fs/cgroup).
test_nft_lists_the_documented_layout() {
	setup_hosts
	mapping "redirect tcp 80 to 8080 for $UNIT" "redirect tcp,udp 443 to 8443 for cgroup /$OWNER_GROUP" \
		"redirect tcp 22 to 2222"
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_eq "nft list table inet portredir" "table inet portredir {
	map tcp_redirects {
		type inet_service : inet_service
		elements = { 22 : 2222, 80 : 8080, 443 : 8443 }
	}

	map udp_redirects {
		type inet_service : inet_service
		elements = { 443 : 8443 }
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

	set tcp_owned {
		type inet_service
		elements = { 80 comment \"$UNIT\", 443 comment \"cgroup /$OWNER_GROUP\" }
	}

	set udp_owned {
		type inet_service
		elements = { 443 comment \"cgroup /$OWNER_GROUP\" }
	}

	set tcp_owners {
		type inet_service . cgroupsv2
		elements = { 80 . \"$OWNER_GROUP\",
			     443 . \"$OWNER_GROUP\" }
	}

	set udp_owners {
		type inet_service . cgroupsv2
		elements = { 443 . \"$OWNER_GROUP\" }
	}

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

	chain input {
		type filter hook input priority filter; policy accept;
		ct state new ct status dnat meta l4proto tcp ct original proto-dst @tcp_owned jump owner_check
		ct state new ct status dnat meta l4proto udp ct original proto-dst @udp_owned jump owner_check
	}

	chain owner_check {
		meta l4proto tcp ct original proto-dst . socket cgroupv2 level 2 @tcp_owners accept
		meta l4proto udp ct original proto-dst . socket cgroupv2 level 2 @udp_owners accept
		meta l4proto tcp reject with tcp reset
		reject
	}
}" "$(nft_in_host list table inet portredir)"
	# And show prints the owners back: applying its output changes nothing.
	run_captured owned_portredir -f "$TEST_DIR/rules.conf" show
	expect_eq "show" "redirect tcp 22 to 2222
redirect tcp 80 to 8080 for $UNIT
redirect tcp 443 to 8443 for cgroup /$OWNER_GROUP
redirect udp 443 to 8443 for cgroup /$OWNER_GROUP" "$RUN_OUT"
	printf '%s\n' "$RUN_OUT" >"$TEST_DIR/shown.conf"
	chmod 0644 "$TEST_DIR/shown.conf"
	expect_owned 0 "" "" -f "$TEST_DIR/shown.conf" diff
}

# The table nft loads from the documented text is portredir's own: diff
# finds nothing to change.
test_the_documented_layout_loaded_by_nft_is_in_sync() {
	local id
	setup_hosts
	id=$(group_id "$OWNER_GROUP")
	mapping "redirect tcp 80 to 8080 for $UNIT"
	nft_in_host -f - <<EOF
table inet portredir {
	map tcp_redirects { type inet_service : inet_service; elements = { 80 : 8080 } }
	map udp_redirects { type inet_service : inet_service; }
	set tcp_counts { type inet_service; flags dynamic; }
	set udp_counts { type inet_service; flags dynamic; }
	set tcp_owned { type inet_service; elements = { 80 comment "$UNIT" } }
	set udp_owned { type inet_service; }
	set tcp_owners { type inet_service . cgroupsv2; elements = { 80 . "$OWNER_GROUP" } }
	set udp_owners { type inet_service . cgroupsv2; }
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
	chain input {
		type filter hook input priority filter; policy accept;
		ct state new ct status dnat meta l4proto tcp ct original proto-dst @tcp_owned jump owner_check
		ct state new ct status dnat meta l4proto udp ct original proto-dst @udp_owned jump owner_check
	}
	chain owner_check {
		meta l4proto tcp ct original proto-dst . socket cgroupv2 level 2 @tcp_owners accept
		meta l4proto udp ct original proto-dst . socket cgroupv2 level 2 @udp_owners accept
		meta l4proto tcp reject with tcp reset
		reject with icmpx type port-unreachable
	}
}
EOF
	[ -n "$id" ]
	expect_owned 0 "" "" -f "$TEST_DIR/rules.conf" diff
}

# Unowned redirects stay open to whoever binds their target; another
# owner's table is left as it was.
test_unowned_mappings_and_foreign_tables_are_untouched() {
	setup_hosts
	in_ns "$HOST" nft -f - <<'EOF'
table inet foreign {
	chain input {
		type filter hook input priority 10; policy accept;
		tcp dport 22 counter accept
	}
}
EOF
	in_ns "$HOST" nft -a list table inet foreign >"$TEST_DIR/foreign.before"
	mapping "redirect tcp 80 to 8080 for $UNIT" "redirect tcp 81 to 8081"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	listen anyone "$ATTACKER_GROUP" tcp dual :: 8081 anyone
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	expect_answers "$PEER" tcp 81 anyone "${REMOTE_ADDRESSES[@]}"
	expect_answers "$HOST" tcp 81 anyone "${LOCAL_ADDRESSES[@]}"
	expect_answers "$PEER" tcp 80 owner 198.18.0.1
	in_ns "$HOST" nft -a list table inet foreign >"$TEST_DIR/foreign.after"
	expect_same_file "table inet foreign" "$TEST_DIR/foreign.before" "$TEST_DIR/foreign.after"
	expect_eq "connections to the unowned redirect" 6 "$(records anyone)"
}

# Someone removes the owner's group from the table, or adds another's:
# diff says so, apply puts it back, and only the owner is reached again.
test_diff_detects_a_tampered_owner_set_and_apply_repairs_it() {
	local owner attacker
	setup_hosts
	owner=$(group_id "$OWNER_GROUP")
	attacker=$(group_id "$ATTACKER_GROUP")
	mapping "redirect tcp 80 to 8080 for $UNIT"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	listen attacker "$ATTACKER_GROUP" tcp 6only :: 8080 attacker
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	nft_in_host delete element inet portredir tcp_owners "{ 80 . \"$OWNER_GROUP\" }"
	nft_in_host add element inet portredir tcp_owners "{ 80 . \"$ATTACKER_GROUP\" }"
	expect_answer "$PEER" tcp 198.18.0.1 80 refused
	expect_owned 1 "~ owner $UNIT: updated (group /$OWNER_GROUP)" "" -f "$TEST_DIR/rules.conf" diff
	expect_owned 0 "~ owner $UNIT: updated (group /$OWNER_GROUP)" "" -f "$TEST_DIR/rules.conf" apply
	expect_owned 0 "" "" -f "$TEST_DIR/rules.conf" diff
	expect_answer "$PEER" tcp 198.18.0.1 80 owner
	expect_answer "$PEER" tcp 2001:db8::1 80 refused
	expect_no_records attacker
	[ "$owner" != "$attacker" ]
	# An owned port that no redirect has is none of portredir's: the
	# gate is rebuilt without it.
	in_ns "$HOST" nft add element inet portredir udp_owned '{ 53 comment "named.service" }'
	local lines="~ set tcp_owned: recreated (with the owner gate)
~ set udp_owned: recreated (element of no redirect found)
~ set tcp_owners: recreated (with the owner gate)
~ set udp_owners: recreated (with the owner gate)
~ chain input: recreated (with the owner gate)
~ chain owner_check: recreated (with the owner gate)"
	expect_owned 1 "$lines" "" -f "$TEST_DIR/rules.conf" diff
	expect_owned 0 "$lines" "" -f "$TEST_DIR/rules.conf" apply
	expect_owned 0 "" "" -f "$TEST_DIR/rules.conf" diff
	expect_answer "$PEER" tcp 198.18.0.1 80 owner
}

test_diff_detects_a_missing_owner_set_and_apply_recreates_the_gate() {
	setup_hosts
	mapping "redirect tcp 80 to 8080 for $UNIT"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	in_ns "$HOST" nft flush chain inet portredir owner_check
	in_ns "$HOST" nft delete set inet portredir udp_owners
	local lines="~ set tcp_owned: recreated (with the owner gate)
~ set udp_owned: recreated (with the owner gate)
~ set tcp_owners: recreated (with the owner gate)
~ set udp_owners: created (missing)
~ chain input: recreated (with the owner gate)
~ chain owner_check: recreated (rule missing)"
	expect_owned 1 "$lines" "" -f "$TEST_DIR/rules.conf" diff
	expect_owned 0 "$lines" "" -f "$TEST_DIR/rules.conf" apply
	expect_owned 0 "" "" -f "$TEST_DIR/rules.conf" diff
	expect_answer "$PEER" tcp 198.18.0.1 80 owner
}

# In a cgroup namespace (a container) the root portredir sees is a group
# of the host's, whose depth it cannot learn: owner_check accepts at the
# group's level as seen and the levels below it, and the owner is reached.
test_owner_is_reached_from_inside_a_cgroup_namespace() {
	setup_hosts
	mapping "redirect tcp 80 to 8080 for cgroup /$UNIT"
	listen owner "$OWNER_GROUP" tcp 4 0.0.0.0 8080 owner
	listen attacker "$ATTACKER_GROUP" tcp 6only :: 8080 attacker
	run_captured sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec unshare -C -m --propagation private sh -c "umount -R -l /sys/fs/cgroup 2>/dev/null; mount -t cgroup2 none /sys/fs/cgroup && exec nsenter --net=\"\$0\" \"\$@\"" "$@"' \
		sh "$CGROUP_MOUNT/$SLICE" "/run/netns/$HOST" "$PORTREDIR" -f "$TEST_DIR/rules.conf" apply
	expect_eq "apply in a cgroup namespace" "0
~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080 for cgroup /$UNIT" "$RUN_STATUS
$RUN_OUT"
	expect_eq "the accepting rules" "$(for level in 1 2 3 4 5 6 7 8 9; do
		printf '\t\tmeta l4proto tcp ct original proto-dst . socket cgroupv2 level %s @tcp_owners accept\n' "$level"
		printf '\t\tmeta l4proto udp ct original proto-dst . socket cgroupv2 level %s @udp_owners accept\n' "$level"
	done)" "$(in_ns "$HOST" nft list chain inet portredir owner_check | grep accept)"
	expect_answer "$PEER" tcp 198.18.0.1 80 owner
	expect_answer "$PEER" tcp 2001:db8::1 80 refused
	expect_no_records attacker
}

# Without any cgroup v2 file system, an owner clause cannot be enforced:
# apply and diff say so, and change nothing.
test_owner_without_cgroup_v2_is_an_error_and_changes_nothing() {
	setup_hosts
	CGROUP_LAYOUT=none
	mapping "redirect tcp 80 to 8080 for $UNIT"
	expect_owned 2 "" "portredir: error: the mapping names owners ('for ...'), which need the cgroup v2 hierarchy, and none is mounted here (no cgroup2 file system in /proc/self/mountinfo); mount it, or remove the 'for' clauses; nothing was changed" \
		-f "$TEST_DIR/rules.conf" apply
	expect_owned 2 "" "portredir: error: the mapping names owners ('for ...'), which need the cgroup v2 hierarchy, and none is mounted here (no cgroup2 file system in /proc/self/mountinfo); mount it, or remove the 'for' clauses" \
		-f "$TEST_DIR/rules.conf" diff
	expect_no_table "$HOST"
	# check never looks at the kernel, nor at the groups.
	expect_owned 0 "redirect tcp 80 to 8080 for $UNIT" "" -f "$TEST_DIR/rules.conf" check
}

# status counts only the owner's listeners: healthy with the owner alone on
# [::]:8080; with the owner on 198.18.0.1 and an outsider on 127.0.0.1, the
# local IPv4 clients the outsider would take count as not reached, and a
# problem names the owner.
test_status_counts_only_the_owners_listeners() {
	CGROUP_LAYOUT=mounted
	setup_hosts
	mapping "redirect tcp 80 to 8080 for cgroup /$OWNER_GROUP"
	listen owner "$OWNER_GROUP" tcp dual :: 8080 owner
	owned_portredir -q -f "$TEST_DIR/rules.conf" apply
	run_captured owned_portredir --json -f "$TEST_DIR/rules.conf" status
	printf '%s\n' "$RUN_OUT" >"$TEST_DIR/status-owner.json"
	expect_eq "exit status of status, the owner alone" 0 "$RUN_STATUS" &&
		expect_eq "owner and reachability" "cgroup /$OWNER_GROUP True True True True []" \
			"$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["mappings"][0]; r=m["reachable"]; print(m["owner"], r["remote_ipv4"], r["remote_ipv6"], r["local_ipv4"], r["local_ipv6"], m["problems"])' "$TEST_DIR/status-owner.json")" || return 1
	kill "$LAST_LISTENER"
	wait "$LAST_LISTENER" 2>/dev/null || true
	listen owner-v4 "$OWNER_GROUP" tcp 4 198.18.0.1 8080 owner
	listen attacker "$ATTACKER_GROUP" tcp 4 127.0.0.1 8080 attacker
	run_captured owned_portredir --json -f "$TEST_DIR/rules.conf" status
	printf '%s\n' "$RUN_OUT" >"$TEST_DIR/status-attacker.json"
	expect_eq "exit status of status, an outsider on 127.0.0.1" 1 "$RUN_STATUS" &&
		expect_eq "reachability with the outsider" "False False True False" \
			"$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["mappings"][0]; r=m["reachable"]; print(r["local_ipv4"], r["local_ipv6"], r["remote_ipv4"], r["remote_ipv6"])' "$TEST_DIR/status-attacker.json")" &&
		python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["mappings"][0]; sys.exit(0 if any(sys.argv[2] in p for p in m["problems"]) else 1)' \
			"$TEST_DIR/status-attacker.json" "cgroup /$OWNER_GROUP" ||
		{ diag "no problem names the owner: $(cat "$TEST_DIR/status-attacker.json")"; return 1; }
	expect_answers "$HOST" tcp 80 refused 127.0.0.1
	expect_no_records attacker
}

run_tests
