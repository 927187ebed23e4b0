#!/bin/bash
# The kernel-state decoder on real dumps: for each table below, the
# reader's dumps are recorded as raw netlink messages (record_dumps), and
# decoding the recording must give exactly what the live read gives, and
# what the layout says of that table. The recordings are the seeds of the
# decoder's fuzz target; to refresh them after a kernel or layout change:
#   RECORD_SEEDS_TO=tests/fuzz/seeds/decoder bash tests/integration/decoder.sh
. "$(dirname "$0")/lib.sh"

RECORDER=${RECORDER:-$(dirname "$PORTREDIR")/tests/record_dumps}

# record NS NAME EXPECTED: records NS, checks the decoded state's
# description (record_dumps' output) against EXPECTED, keeps the seed.
record() {
	local ns=$1 name=$2 expected=$3
	run_captured in_ns "$ns" "$RECORDER" "$TEST_DIR/$name.dump"
	if [ "$RUN_STATUS" -ne 0 ]; then
		diag "record_dumps failed (exit status $RUN_STATUS):"
		head -n 30 <<<"$RUN_ERR" | sed 's/^/#   /' >&2
		return 1
	fi
	if [ "$RUN_OUT" != "$expected" ]; then
		diag "decoded state of $name differs from the expected one:"
		diff <(printf '%s\n' "$expected") <(printf '%s\n' "$RUN_OUT") | head -n 20 | sed 's/^/#   /' >&2
		return 1
	fi
	if [ -n "${RECORD_SEEDS_TO:-}" ]; then
		cp "$TEST_DIR/$name.dump" "$RECORD_SEEDS_TO/$name.dump"
	fi
}

# A table of a mapping without owners has no owner gate.
NO_GATE='tcp_owned: missing
udp_owned: missing
tcp_owners: missing
udp_owners: missing
input: missing
owner_check: missing'

INTACT="table: ok
tcp_redirects: ok
udp_redirects: ok
prerouting: ok
output: ok
$NO_GATE"

SHIPPED_REDIRECTS='redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 443 to 8443'

test_no_table() {
	local ns
	netns_make ns host
	record "$ns" no-table "table exists: no
table: missing
tcp_redirects: missing
udp_redirects: missing
prerouting: missing
output: missing
$NO_GATE"
}

test_shipped_mapping() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	record "$ns" shipped "table exists: yes
$INTACT
$SHIPPED_REDIRECTS"
}

# The table nft builds from CONTRACT_LAYOUT decodes as portredir's own:
# intact, with the shipped redirects.
test_contract_layout_loaded_by_nft() {
	local ns
	netns_make ns host
	load_contract_layout "$ns"
	record "$ns" contract-layout "table exists: yes
$INTACT
$SHIPPED_REDIRECTS"
}

test_original_port_start_in_userdata() {
	local ns mapping=$TEST_DIR/start.conf
	netns_make ns host
	write_mapping "$mapping" 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	record "$ns" original-port-start "table exists: yes
$INTACT
original unprivileged_port_start: 1024
redirect tcp 80 to 8080"
}

# Enough elements that the kernel answers in several messages and reads.
test_many_elements() {
	local ns mapping=$TEST_DIR/many.conf expected
	netns_make ns host
	{
		echo 'unprivileged_port_start 1024'
		for port in $(seq 1 600); do echo "redirect tcp,udp $port to $((port + 10000))"; done
	} >"$mapping"
	chmod 0644 "$mapping"
	portredir_in "$ns" -q -f "$mapping" apply
	expected=$(printf 'table exists: yes\n%s\n' "$INTACT"
		for protocol in tcp udp; do
			for port in $(seq 1 600); do echo "redirect $protocol $port to $((port + 10000))"; done
		done)
	record "$ns" many-elements "$expected"
}

test_foreign_rules_in_managed_chains() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft insert rule inet portredir output counter
	in_ns "$ns" nft add rule inet portredir prerouting tcp dport '{ 22, 23 }' accept comment '"foreign"'
	record "$ns" foreign-rules "table exists: yes
table: ok
tcp_redirects: ok
udp_redirects: ok
prerouting: altered, unexpected rule found
output: altered, unexpected rule found
$NO_GATE
$SHIPPED_REDIRECTS"
}

test_foreign_objects_in_the_table() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft add set inet portredir blocked '{ type ipv4_addr; elements = { 198.18.0.9 } }'
	in_ns "$ns" nft add chain inet portredir extra
	in_ns "$ns" nft add rule inet portredir extra ip saddr @blocked drop
	in_ns "$ns" nft add counter inet portredir hits
	record "$ns" foreign-objects "table exists: yes
table: altered, unexpected chain 'extra' found
tcp_redirects: ok
udp_redirects: ok
prerouting: ok
output: ok
$NO_GATE
$SHIPPED_REDIRECTS"
}

# A mapping with owners: the gate, its owned ports with their owners, the
# groups' IDs and owner_check's level. Its groups are real ones of the
# host's cgroup v2 hierarchy, made for the test, which portredir sees
# through nsenter (ip netns exec would mount another /sys).
test_owned_mapping() {
	local ns mapping=$TEST_DIR/owned.conf group=portredir-test-$$.slice cgroup id
	cgroup=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") print $5; break } }' \
		/proc/self/mountinfo | head -n 1)
	[ -n "$cgroup" ] || skip_test "no cgroup v2 hierarchy is mounted here"
	netns_make ns host
	mkdir "$cgroup/$group" "$cgroup/$group/web.service"
	on_cleanup "rmdir '$cgroup/$group/web.service' '$cgroup/$group'"
	id=$(stat -c %i "$cgroup/$group/web.service")
	write_mapping "$mapping" 'redirect tcp,udp 443 to 8443 for web.service' "redirect tcp 80 to 8080 for cgroup /$group/web.service"
	nsenter --net="/run/netns/$ns" "$PORTREDIR" -q -f "$mapping" apply
	record "$ns" owned "table exists: yes
table: ok
tcp_redirects: ok
udp_redirects: ok
prerouting: ok
output: ok
tcp_owned: ok
udp_owned: ok
tcp_owners: ok
udp_owners: ok
input: ok
owner_check: ok
owner_check level 2
redirect tcp 80 to 8080 for cgroup /$group/web.service
redirect tcp 443 to 8443 for web.service
redirect udp 443 to 8443 for web.service
owned tcp 80
owned tcp 443
owned udp 443
group of tcp 80: $id
group of tcp 443: $id
group of udp 443: $id"
}

test_changed_chains_and_maps() {
	local ns
	netns_make ns host
	in_ns "$ns" nft -f - <<'NFT'
table inet portredir {
	map tcp_redirects { type inet_service : inet_service; flags timeout; elements = { 80 : 8080 } }
	map udp_redirects { type ipv4_addr : inet_service; elements = { 198.18.0.1 : 8443 } }
	chain prerouting {
		type nat hook prerouting priority 0; policy accept;
		fib daddr type local meta l4proto tcp redirect to :tcp dport map @tcp_redirects
	}
	chain output {
		type filter hook output priority -100; policy drop;
	}
}
NFT
	record "$ns" changed-objects "table exists: yes
table: ok
tcp_redirects: altered, map type changed
udp_redirects: altered, map type changed
prerouting: altered, chain changed
output: altered, chain changed
$NO_GATE"
}

test_missing_chain_and_map() {
	local ns
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft flush chain inet portredir output
	in_ns "$ns" nft delete chain inet portredir output
	in_ns "$ns" nft delete rule inet portredir prerouting handle \
		"$(in_ns "$ns" nft -a list chain inet portredir prerouting | sed -n 's/.*udp_redirects # handle //p')"
	in_ns "$ns" nft delete map inet portredir udp_redirects
	record "$ns" missing-objects "table exists: yes
table: ok
tcp_redirects: ok
udp_redirects: missing
prerouting: altered, rule missing
output: missing
$NO_GATE
redirect tcp 80 to 8080
redirect tcp 443 to 8443"
}

run_tests
