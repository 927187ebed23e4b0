#!/bin/bash
# Concurrent runs: applies of two different mappings started together, and
# applies racing with nft changing or flushing the ruleset. The batch is
# bound to the ruleset generation it was planned against, so the table is
# always exactly one mapping's, never a mix; a run that loses the
# race too often exits 2 and says to run it again.
. "$(dirname "$0")/lib.sh"

ROUNDS=${CONCURRENCY_ROUNDS:-50}
PROCESSES=${CONCURRENCY_PROCESSES:-20}
# What a run that gave up after its bounded retries says.
RETRY_MESSAGE='the ruleset kept changing while portredir worked; run it again'

# The managed table as a canonical JSON text: maps with their elements in
# order, chains with their hook and their rules in chain order, and any
# other object; "absent" without the table. nft lists set elements in no
# fixed order, so that a byte comparison of its text would not do. With
# a file argument: each line of it (nft -j output, or empty when the table
# was missing), canonical.
CANONICAL_PROGRAM='
import json, subprocess, sys

def canonical(listing):
    if not listing.strip():
        return "absent"
    table = {"maps": {}, "chains": {}, "other": []}
    for item in json.loads(listing)["nftables"]:
        kind, value = next(iter(item.items()))
        if kind in ("metainfo", "table"):
            continue
        if kind == "map":
            elements = sorted(json.dumps(e, sort_keys=True) for e in value.get("elem", []))
            # A map cannot hold a key twice: nft listed it while the
            # ruleset changed under its dump, and its listing is not a
            # state of the kernel.
            if len(set(elements)) != len(elements):
                return "inconsistent listing"
            table["maps"][value["name"]] = [value["type"], value["map"], value.get("flags"), elements]
        elif kind == "chain":
            table["chains"].setdefault(value["name"], {"rules": []}).update(
                {k: value.get(k) for k in ("type", "hook", "prio", "policy")})
        elif kind == "rule":
            table["chains"].setdefault(value["chain"], {"rules": []})["rules"].append(value["expr"])
        else:
            table["other"].append(item)
    return json.dumps(table, sort_keys=True)

if len(sys.argv) > 1:
    for line in open(sys.argv[1]):
        print(canonical(line))
else:
    listing = subprocess.run(["nft", "-j", "list", "table", "inet", "portredir"], capture_output=True, text=True)
    print(canonical(listing.stdout if listing.returncode == 0 else ""))
'

# canonical_table NS: the table of NS, canonical.
canonical_table() {
	in_ns "$1" "$PYTHON" -c "$CANONICAL_PROGRAM"
}

# Mappings A and B share no redirect, and each changes the other's every
# element: 100 ports each, with both protocols.
write_mappings() {
	"$PYTHON" -c '
import sys
for port in range(1, 101):
    print("redirect tcp,udp %d to %d" % (port, 20000 + port))' >"$TEST_DIR/a.conf"
	"$PYTHON" -c '
import sys
for port in range(101, 201):
    print("redirect tcp,udp %d to %d" % (port, 30000 + port))' >"$TEST_DIR/b.conf"
	chmod 0644 "$TEST_DIR/a.conf" "$TEST_DIR/b.conf"
}

# canonical_of NS MAPPING: the canonical table MAPPING alone makes, applied
# to an empty namespace NS.
canonical_of() {
	portredir_in "$1" -q -f "$2" apply
	canonical_table "$1"
	portredir_in "$1" -q -f "$2" flush
}

# Runs in the namespace: ROUNDS rounds of PROCESSES applies, half of each
# mapping, held at a shared lock until all have started, then released
# together. After each round the table must be exactly A or B. Prints one
# line per round: the winner ("a", "b" or "mixed"), then the exit status
# of each process and, for a failure, its first line on stderr.
ROUNDS_PROGRAM='
portredir=$1 a=$2 b=$3 rounds=$4 processes=$5 directory=$6 python=$7 canonical=$8
expected_a=$9 expected_b=${10}
lock=$directory/lock
for round in $(seq 1 "$rounds"); do
	exec 9>"$lock"
	flock -x 9
	pids=()
	for i in $(seq 1 "$processes"); do
		mapping=$a
		[ $((i % 2)) -eq 0 ] && mapping=$b
		flock -s "$lock" "$portredir" -v -f "$mapping" apply >/dev/null 2>"$directory/err.$i" 9>&- &
		pids+=($!)
	done
	# Every process is waiting at the lock before it is released.
	sleep 0.2
	flock -u 9
	exec 9>&-
	statuses=""
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		status=$?
		statuses="$statuses $status"
		if [ "$status" -ne 0 ]; then
			echo "failure: exit $status: $(grep -m 1 ": error: " "$directory/err.$((i + 1))")"
		fi
	done
	echo "replanned: $(cat "$directory"/err.* | grep -c "planning again")"
	state=$("$python" -c "$canonical")
	if [ "$state" = "$expected_a" ]; then
		echo "round $round: a;$statuses"
	elif [ "$state" = "$expected_b" ]; then
		echo "round $round: b;$statuses"
	else
		echo "round $round: mixed;$statuses"
		printf "%s\n" "$state" >"$directory/mixed.$round"
	fi
done
'

test_applies_of_two_mappings_started_together_never_mix() {
	local ns expected_a expected_b report failures mixed
	netns_make ns host
	write_mappings
	expected_a=$(canonical_of "$ns" "$TEST_DIR/a.conf")
	expected_b=$(canonical_of "$ns" "$TEST_DIR/b.conf")
	portredir_in "$ns" -q -f "$TEST_DIR/a.conf" apply
	report=$(in_ns "$ns" bash -c "$ROUNDS_PROGRAM" rounds "$PORTREDIR" "$TEST_DIR/a.conf" "$TEST_DIR/b.conf" \
		"$ROUNDS" "$PROCESSES" "$TEST_DIR" "$PYTHON" "$CANONICAL_PROGRAM" "$expected_a" "$expected_b")
	printf '%s\n' "$report" >"$TEST_DIR/report"
	mixed=$(grep -c '^round [0-9]*: mixed' <<<"$report" || true)
	failures=$(grep '^failure: ' <<<"$report" || true)
	diag "$ROUNDS rounds of $PROCESSES applies: $(grep -c ': a;' <<<"$report" || true) ended as A," \
		"$(grep -c ': b;' <<<"$report" || true) as B, $mixed mixed;" \
		"$(grep -c '^failure: ' <<<"$report" || true) of $((ROUNDS * PROCESSES)) processes gave up;" \
		"$(awk '/^replanned: / { total += $2 } END { print total + 0 }' <<<"$report") re-plans after the generation moved"
	expect_eq "rounds that left a mix of A and B" 0 "$mixed"
	expect_eq "rounds run" "$ROUNDS" "$(grep -c '^round ' <<<"$report")"
	# A failure is allowed only as the bounded retry, saying so.
	if grep -v "^failure: exit 2: portredir: error: .*; $RETRY_MESSAGE\$" <<<"$failures" | grep -q .; then
		diag "processes failed otherwise than by giving up after retries:"
		grep -v "$RETRY_MESSAGE" <<<"$failures" | sort | uniq -c | sed 's/^/#   /' >&2
		return 1
	fi
}

# racing NS COMMAND...: runs COMMAND in NS over and over in the background
# until stop_racing.
racing() {
	local ns=$1
	shift
	touch "$TEST_DIR/racing"
	background in_ns "$ns" bash -c 'while [ -e "$0" ]; do "$@" >/dev/null 2>&1; done' "$TEST_DIR/racing" "$@"
}

stop_racing() {
	rm -f "$TEST_DIR/racing"
	for pid in "${BACKGROUND_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	BACKGROUND_PIDS=()
}

# apply_racing NS MAPPING COUNT: COUNT applies in a row while the racer
# runs; each must exit 0 or give up saying so. Says how many repaired what
# the racer did ("~" change lines), and how often a batch was refused
# because the racer moved the generation since the read, and re-planned.
apply_racing() {
	local ns=$1 mapping=$2 count=$3 i gave_up=0 repaired=0 replanned=0
	for i in $(seq 1 "$count"); do
		run_captured portredir_in "$ns" -v -f "$mapping" apply
		grep -q '^~ ' <<<"$RUN_OUT" && repaired=$((repaired + 1))
		replanned=$((replanned + $(grep -c 'planning again' <<<"$RUN_ERR" || true)))
		if [ "$RUN_STATUS" -ne 0 ]; then
			grep -q "$RETRY_MESSAGE" <<<"$RUN_ERR" || {
				diag "apply $i of $count exited $RUN_STATUS: $RUN_ERR"
				return 1
			}
			gave_up=$((gave_up + 1))
		fi
	done
	diag "$count applies during the race: $((count - gave_up)) exited 0 ($repaired of them after a repair)," \
		"$gave_up gave up after retries; $replanned re-plans after the generation moved"
}

# While nft keeps adding rules to a managed chain, every apply that ends
# has removed them; once nft stops, one apply leaves exactly the layout.
test_apply_racing_with_nft_add_rule_into_a_managed_chain() {
	local ns expected
	netns_make ns host
	write_mappings
	expected=$(canonical_of "$ns" "$TEST_DIR/a.conf")
	portredir_in "$ns" -q -f "$TEST_DIR/a.conf" apply
	racing "$ns" nft add rule inet portredir output counter
	apply_racing "$ns" "$TEST_DIR/a.conf" 100
	stop_racing
	portredir_in "$ns" -q -f "$TEST_DIR/a.conf" apply
	expect_eq "table after the race and one apply" "$expected" "$(canonical_table "$ns")"
}

# While nft keeps flushing the whole ruleset, a sampler sees the table
# either absent or complete, never part of it; once nft stops, one apply
# leaves exactly the layout.
test_apply_racing_with_nft_flush_ruleset() {
	local ns expected states
	netns_make ns host
	write_mappings
	expected=$(canonical_of "$ns" "$TEST_DIR/a.conf")
	racing "$ns" nft flush ruleset
	# nft -j prints one line, or nothing when the table is missing.
	background in_ns "$ns" bash -c 'while [ -e "$0" ]; do nft -j list table inet portredir 2>/dev/null || echo; done' \
		"$TEST_DIR/racing" >"$TEST_DIR/listings"
	apply_racing "$ns" "$TEST_DIR/a.conf" 100
	stop_racing
	"$PYTHON" -c "$CANONICAL_PROGRAM" "$TEST_DIR/listings" >"$TEST_DIR/all-samples"
	# nft's own listing is not atomic: one made while the ruleset changed
	# under it says nothing about the kernel and is left out.
	grep -vx 'inconsistent listing' "$TEST_DIR/all-samples" >"$TEST_DIR/samples" || true
	states=$(sort -u "$TEST_DIR/samples")
	diag "$(wc -l <"$TEST_DIR/samples") samples during the race ($(grep -cx 'inconsistent listing' "$TEST_DIR/all-samples") inconsistent nft listings left out), $(wc -l <<<"$states") distinct states"
	[ "$(wc -l <"$TEST_DIR/samples")" -ge 20 ] || { diag "too few samples to tell"; return 1; }
	if grep -qvxF -e absent -e "$expected" <<<"$states"; then
		diag "a sample was neither absent nor the complete table:"
		grep -vxF -e absent -e "$expected" <<<"$states" | head -n 3 | sed 's/^/#   /' >&2
		return 1
	fi
	portredir_in "$ns" -q -f "$TEST_DIR/a.conf" apply
	expect_eq "table after the race and one apply" "$expected" "$(canonical_table "$ns")"
}

# The sysctl is written after the batch, outside the transaction: runs of
# mappings that declare different unprivileged_port_start values take turns
# (a lock per network namespace), so that none leaves one file's table with
# the other's sysctl.
test_applies_declaring_different_sysctls_never_mix_table_and_sysctl() {
	local ns round i sysctl mixed=0
	netns_make ns host
	write_mappings
	{ echo 'unprivileged_port_start 100'; cat "$TEST_DIR/a.conf"; } >"$TEST_DIR/sa.conf"
	{ echo 'unprivileged_port_start 200'; cat "$TEST_DIR/b.conf"; } >"$TEST_DIR/sb.conf"
	chmod 0644 "$TEST_DIR/sa.conf" "$TEST_DIR/sb.conf"
	for round in $(seq 1 "$ROUNDS"); do
		for i in $(seq 1 "$PROCESSES"); do
			if [ $((i % 2)) -eq 0 ]; then
				portredir_in "$ns" -q -f "$TEST_DIR/sb.conf" apply 2>/dev/null &
			else
				portredir_in "$ns" -q -f "$TEST_DIR/sa.conf" apply 2>/dev/null &
			fi
		done
		wait
		# diff is in sync with a file only if table and sysctl are both its.
		if ! portredir_in "$ns" -q -f "$TEST_DIR/sa.conf" diff >/dev/null &&
			! portredir_in "$ns" -q -f "$TEST_DIR/sb.conf" diff >/dev/null; then
			sysctl=$(in_ns "$ns" sysctl -n net.ipv4.ip_unprivileged_port_start)
			diag "round $round: the table of one mapping, the sysctl at $sysctl"
			mixed=$((mixed + 1))
		fi
	done
	expect_eq "rounds that left one mapping's table with the other's sysctl" 0 "$mixed"
}

run_tests
