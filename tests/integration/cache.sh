#!/bin/bash
# The record of the maps' elements that spares a run the dump (src/cache.h):
# used only while nothing has committed since it was made, never believed
# when anything about it is off, and never needed for a right answer. nft
# is the oracle for what the kernel holds.
. "$(dirname "$0")/lib.sh"

# Each test's own directory, so that its records can be looked at.
use_records_in() {
	export PORTREDIR_RUNTIME_DIRECTORY=$TEST_DIR/$1
	rm -rf "$PORTREDIR_RUNTIME_DIRECTORY"
}

# run_verbose NS ARGUMENTS...: portredir -v in NS, captured.
run_verbose() {
	local ns=$1
	shift
	run_captured portredir_in "$ns" -v "$@"
}

# The -v line that tells a run took the elements from the record.
RECORD_USED='(as recorded at this generation; the maps were not dumped)'

expect_record_used() {
	grep -qF "$RECORD_USED" <<<"$RUN_ERR" || { diag "the record was not used: $RUN_ERR"; return 1; }
}

expect_maps_dumped() {
	if grep -qF "$RECORD_USED" <<<"$RUN_ERR"; then
		diag "the record was used where the maps had to be dumped: $RUN_ERR"
		return 1
	fi
	grep -q 'read table inet portredir at generation' <<<"$RUN_ERR" ||
		{ diag "no read reported: $RUN_ERR"; return 1; }
}

# The one record in the directory, by the name portredir gives it.
record_file() {
	local files=("$PORTREDIR_RUNTIME_DIRECTORY"/????????????????)
	[ "${#files[@]}" -eq 1 ] && [ -f "${files[0]}" ] || { diag "not one record: ${files[*]}"; return 1; }
	printf '%s\n' "${files[0]}"
}

start_with_mapping() {
	netns_make NS host
	write_mapping "$TEST_DIR/start.conf" 'redirect tcp 80 to 8080' 'redirect tcp,udp 443 to 8443' \
		'redirect udp 53 to 5353'
	portredir_in "$NS" -q -f "$TEST_DIR/start.conf" apply
}

START_TABLE_TCP='80 : 8080, 443 : 8443'
START_TABLE_UDP='53 : 5353, 443 : 8443'

test_runs_after_an_apply_take_the_elements_from_its_record() {
	use_records_in records
	start_with_mapping
	stat -c '%a %U' "$PORTREDIR_RUNTIME_DIRECTORY" | grep -qx '700 root'
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status of diff" 0 "$RUN_STATUS"
	expect_eq "stdout of diff" "" "$RUN_OUT"
	expect_record_used
	run_verbose "$NS" -f "$TEST_DIR/start.conf" show
	expect_record_used
	expect_eq "show" 'redirect tcp 80 to 8080
redirect tcp 443 to 8443
redirect udp 53 to 5353
redirect udp 443 to 8443' "$(grep '^redirect' <<<"$RUN_OUT")"
	expect_table "$NS" "$(table_text "$START_TABLE_TCP" "$START_TABLE_UDP")"
}

# A change applied from the record, then checked by a run that must dump
# (nft's commit moved the generation), by nft, and by traffic.
test_a_change_applied_from_the_record_is_what_the_kernel_holds() {
	use_records_in records
	topology_host_peer
	NS=$HOST
	write_mapping "$TEST_DIR/start.conf" 'redirect tcp 80 to 8080'
	portredir_in "$NS" -q -f "$TEST_DIR/start.conf" apply
	write_mapping "$TEST_DIR/moved.conf" 'redirect tcp 80 to 9090'
	run_verbose "$NS" -f "$TEST_DIR/moved.conf" apply
	expect_eq "exit status of apply" 0 "$RUN_STATUS"
	expect_eq "stdout of apply" '- redirect tcp 80 to 8080
+ redirect tcp 80 to 9090' "$RUN_OUT"
	expect_record_used
	grep -q 'the maps.* elements were recorded for the next run' <<<"$RUN_ERR"
	expect_table "$NS" "$(table_text '80 : 9090' '')"
	start_listener "$HOST" "$LISTENER_USER" tcp 9090 moved
	expect_answer "$PEER" tcp 198.18.0.1 80 moved
	expect_answer "$PEER" tcp 2001:db8::1 80 moved
	expect_answer "$HOST" tcp 127.0.0.1 80 moved
	in_ns "$NS" nft add table inet elsewhere
	run_verbose "$NS" -f "$TEST_DIR/moved.conf" diff
	expect_eq "exit status of diff after a commit elsewhere" 0 "$RUN_STATUS"
	expect_maps_dumped
}

# Whatever nft changes, the next run dumps and sees it; the run after
# that, with nothing committed in between, takes the new record.
test_a_commit_by_anyone_else_makes_the_next_run_dump() {
	use_records_in records
	start_with_mapping
	in_ns "$NS" nft add element inet portredir tcp_redirects '{ 22 : 2222 }'
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status of diff" 1 "$RUN_STATUS"
	expect_eq "stdout of diff" '- redirect tcp 22 to 2222' "$RUN_OUT"
	expect_maps_dumped
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status of the second diff" 1 "$RUN_STATUS"
	expect_eq "stdout of the second diff" '- redirect tcp 22 to 2222' "$RUN_OUT"
	expect_record_used
	in_ns "$NS" nft delete element inet portredir udp_redirects '{ 53 }'
	run_verbose "$NS" -f "$TEST_DIR/start.conf" apply
	expect_eq "stdout of apply" '- redirect tcp 22 to 2222
+ redirect udp 53 to 5353' "$RUN_OUT"
	expect_maps_dumped
	expect_table "$NS" "$(table_text "$START_TABLE_TCP" "$START_TABLE_UDP")"
	expect_portredir "$NS" 0 "" -f "$TEST_DIR/start.conf" diff
}

# nft writes no identity into a table it creates: such a table is always
# dumped, even with a record of the same name lying around.
test_a_table_made_by_nft_is_always_dumped() {
	use_records_in records
	start_with_mapping
	in_ns "$NS" nft delete table inet portredir
	load_contract_layout "$NS"
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "stdout of diff" '+ redirect udp 53 to 5353' "$RUN_OUT"
	expect_maps_dumped
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "stdout of the second diff" '+ redirect udp 53 to 5353' "$RUN_OUT"
	expect_maps_dumped
}

# A record that was tampered with, or that others could have written, is
# passed by: the maps are dumped and the answer is right.
test_a_record_that_cannot_be_trusted_is_not_used() {
	local record size
	use_records_in records
	start_with_mapping
	# Swap in what another mapping would have recorded: a valid record of
	# the same table and generation with other elements cannot be told
	# from the real one, so the file's owner alone may write it. Here,
	# one byte of a target changed.
	record=$(record_file)
	size=$(stat -c %s "$record")
	printf '\x01' | dd of="$record" bs=1 seek=$((size - 1)) conv=notrunc status=none
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status of diff with a changed record" 0 "$RUN_STATUS"
	expect_maps_dumped
	# That read wrote a good record again; a directory others may write
	# is not used.
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_record_used
	chmod 0777 "$PORTREDIR_RUNTIME_DIRECTORY"
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status of diff with an open directory" 0 "$RUN_STATUS"
	expect_maps_dumped
	grep -qxF "portredir: the maps' elements were not recorded for the next run: $PORTREDIR_RUNTIME_DIRECTORY: is writable by group or others (mode 0777); run 'chmod go-w $PORTREDIR_RUNTIME_DIRECTORY'" <<<"$RUN_ERR"
	chmod 0700 "$PORTREDIR_RUNTIME_DIRECTORY"
	ln -sf /dev/null "$(record_file)"
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status of diff with a symbolic link" 0 "$RUN_STATUS"
	expect_maps_dumped
}

# Without a directory it can use (a read-only /run, a service without
# one), portredir reads everything from the kernel and says why under -v.
test_without_a_usable_directory_every_run_dumps_and_is_right() {
	use_records_in missing/records
	start_with_mapping
	write_mapping "$TEST_DIR/moved.conf" 'redirect tcp 80 to 9090'
	run_verbose "$NS" -f "$TEST_DIR/moved.conf" apply
	expect_eq "exit status of apply" 0 "$RUN_STATUS"
	expect_maps_dumped
	grep -q 'not recorded for the next run: No such file or directory' <<<"$RUN_ERR"
	run_verbose "$NS" -f "$TEST_DIR/moved.conf" diff
	expect_eq "exit status of diff" 0 "$RUN_STATUS"
	expect_maps_dumped
	expect_table "$NS" "$(table_text '80 : 9090' '')"
}

# flush removes the record of the table it deleted; a new table gets a new
# identity, hence a record of its own.
test_flush_forgets_the_record_and_a_new_table_gets_a_new_one() {
	local first second
	use_records_in records
	start_with_mapping
	first=$(record_file)
	portredir_in "$NS" -q flush
	if [ -e "$first" ]; then
		diag "flush left the record $first"
		return 1
	fi
	portredir_in "$NS" -q -f "$TEST_DIR/start.conf" apply
	second=$(record_file)
	[ "$first" != "$second" ] || { diag "the new table has the old identity"; return 1; }
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_record_used
}

# Two namespaces, two tables, two records: neither run takes the other's.
test_each_namespace_has_its_own_record() {
	use_records_in records
	start_with_mapping
	netns_make OTHER other
	write_mapping "$TEST_DIR/other.conf" 'redirect tcp 80 to 9090'
	portredir_in "$OTHER" -q -f "$TEST_DIR/other.conf" apply
	# Beside the two records, each namespace's lock file (src/lock.h).
	expect_eq "records" 2 "$(find "$PORTREDIR_RUNTIME_DIRECTORY" -type f -name '????????????????' | wc -l)"
	expect_eq "lock files" 2 "$(find "$PORTREDIR_RUNTIME_DIRECTORY" -type f -name 'netns-*.lock' | wc -l)"
	run_verbose "$OTHER" -f "$TEST_DIR/start.conf" diff
	expect_eq "stdout of diff in the other namespace" '- redirect tcp 80 to 9090
+ redirect tcp 80 to 8080
+ redirect tcp 443 to 8443
+ redirect udp 53 to 5353
+ redirect udp 443 to 8443' "$RUN_OUT"
	expect_record_used
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "stdout of diff in the first namespace" "" "$RUN_OUT"
	expect_record_used
}

# Without PORTREDIR_RUNTIME_DIRECTORY the records (and the lock) go to
# /run/portredir, created 0700: shown on a /run of the test's own (a tmpfs in a mount
# namespace), never the host's.
test_by_default_records_go_to_run_portredir() {
	netns_make NS host
	write_mapping "$TEST_DIR/start.conf" 'redirect tcp 80 to 8080'
	# The namespace is entered through a descriptor opened before /run,
	# where ip netns keeps it, is covered.
	unset PORTREDIR_RUNTIME_DIRECTORY
	run_captured unshare -m bash -c '
		exec 3<"/run/netns/$1"
		mount -t tmpfs -o mode=0755 portredir-test /run
		nsenter --net=/proc/self/fd/3 "$2" -q -f "$3" apply
		nsenter --net=/proc/self/fd/3 "$2" -v -f "$3" diff 2>&1 | grep -F "the maps were not dumped"
		stat -c "%a %U" /run/portredir
		find /run/portredir -type f -printf "%m %u %f\n" | sed "s/[0-9a-f]\{16\}$/RECORD/; s/netns-[0-9]*.lock$/LOCK/" | sort
	' default-directory "$NS" "$PORTREDIR" "$TEST_DIR/start.conf"
	expect_eq "exit status" 0 "$RUN_STATUS"
	grep -q '^portredir: read table inet portredir at generation [0-9]*: 1 redirect (as recorded' <<<"$RUN_OUT"
	expect_eq "the directory, its record and the namespace's lock file" '700 root
600 root LOCK
600 root RECORD' "$(tail -n 3 <<<"$RUN_OUT")"
}

# Under -v, a record that is there but not believed is named, with the
# reason; no record for the moment goes without saying.
test_a_record_not_used_is_named_under_verbose() {
	local record
	use_records_in records
	start_with_mapping
	record=$(record_file)
	chmod 0777 "$PORTREDIR_RUNTIME_DIRECTORY"
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status with an open directory" 0 "$RUN_STATUS"
	expect_maps_dumped
	expect_eq "the record named" "portredir: the record $record was not used: $PORTREDIR_RUNTIME_DIRECTORY: is writable by group or others (mode 0777); run 'chmod go-w $PORTREDIR_RUNTIME_DIRECTORY'" \
		"$(grep 'was not used' <<<"$RUN_ERR")"
	chmod 0700 "$PORTREDIR_RUNTIME_DIRECTORY"
	ln -sf /dev/null "$record"
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status with a symbolic link" 0 "$RUN_STATUS"
	expect_eq "the link named" "portredir: the record $record was not used: Too many levels of symbolic links" \
		"$(grep 'was not used' <<<"$RUN_ERR")"
	rm -f "$record"
	run_verbose "$NS" -f "$TEST_DIR/start.conf" diff
	expect_eq "exit status without a record" 0 "$RUN_STATUS"
	expect_maps_dumped
	expect_eq "no record named" "" "$(grep 'was not used' <<<"$RUN_ERR")"
}

run_tests
