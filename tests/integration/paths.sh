#!/bin/bash
# The runtime directory is used only through a path nobody else can change
# (src/path_trust.h): through another user's directory or link, or a
# directory others may write, portredir neither records, nor locks, nor
# prunes there; it still applies (reading the maps from the kernel), and
# -v says why. Nothing is written or deleted in what a link points to.
# The mapping's own path is walked the same way (tests/hostile/run.sh).
. "$(dirname "$0")/lib.sh"

# A root-owned directory that a hostile path leads to, holding files
# portredir must never touch: record-named files that hold no record,
# files named like its temporary ones and old enough to be pruned, a
# lock-named file; in a directory $CASE of the test's own. Prints nothing;
# fingerprint_target says what is there.
make_target() {
	local target i
	CASE=$(mktemp -d "$TEST_DIR/case.XXXXXX")
	chmod 0755 "$CASE"
	target=$CASE/target/portredir
	install -d -m 0755 "$CASE/target"
	install -d -m 0700 "$target"
	for i in $(seq 1 20); do
		printf 'root file %d, not a record\n' "$i" >"$target/$(printf '%016x' "$i")"
	done
	printf 'half-written\n' >"$target/0000000000000001.4242.tmp"
	printf 'not a lock\n' >"$target/netns-1.lock"
	chmod 0600 "$target"/*
	touch -d '2000-01-01' "$target"/*
}

fingerprint_target() {
	(cd "$CASE/target" && find . -printf '%p %m %u %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort)
}

# expect_runtime_refused REASON: with PORTREDIR_RUNTIME_DIRECTORY set, an
# apply and a flush succeed, -v says the runtime directory is not used
# because of REASON, and the target is as it was.
expect_runtime_refused() {
	local reason=$1 ns
	netns_make ns host
	fingerprint_target >"$TEST_DIR/before"
	run_captured portredir_in "$ns" -v -f "$RULES_DIR" apply
	expect_eq "exit status of apply" 0 "$RUN_STATUS"
	expect_eq "stdout of apply" "$CREATE_ALL_LINES" "$RUN_OUT"
	expect_eq "what -v says of the turn" \
		"portredir: no turn against concurrent runs: $PORTREDIR_RUNTIME_DIRECTORY: $reason; the batch's generation still guards the rules" \
		"$(grep 'turn' <<<"$RUN_ERR")"
	expect_eq "what -v says of the record" \
		"portredir: the maps' elements were not recorded for the next run: $PORTREDIR_RUNTIME_DIRECTORY: $reason" \
		"$(grep 'recorded' <<<"$RUN_ERR")"
	run_captured portredir_in "$ns" -v flush
	expect_eq "exit status of flush" 0 "$RUN_STATUS"
	expect_eq "stdout of flush" '- table inet portredir' "$RUN_OUT"
	fingerprint_target >"$TEST_DIR/after"
	expect_same_file "the link's target" "$TEST_DIR/before" "$TEST_DIR/after"
}

# The issue's path: DIR of nobody's, holding nobody's link to a directory
# of root's.
test_a_link_of_another_user_to_roots_directory_is_not_followed() {
	make_target
	install -d -m 0755 -o "$LISTENER_USER" "$CASE/users"
	ln -s "$CASE/target" "$CASE/users/link"
	chown -h "$LISTENER_USER" "$CASE/users/link"
	export PORTREDIR_RUNTIME_DIRECTORY=$CASE/users/link/portredir
	expect_runtime_refused "directory $CASE/users on its path is owned by uid $(id -u "$LISTENER_USER"), not root; run 'chown root $CASE/users'"
}

# The link alone another user's, in root's directory.
test_a_link_of_another_user_in_a_roots_directory_is_not_followed() {
	make_target
	install -d -m 0755 "$CASE/roots"
	ln -s "$CASE/target" "$CASE/roots/link"
	chown -h "$LISTENER_USER" "$CASE/roots/link"
	export PORTREDIR_RUNTIME_DIRECTORY=$CASE/roots/link/portredir
	expect_runtime_refused "symbolic link $CASE/roots/link on its path is owned by uid $(id -u "$LISTENER_USER"), not root; replace it with a link root owns, or name its target"
}

# Root's link, but into a directory another user may write.
test_a_link_of_roots_into_a_directory_others_may_write_is_not_followed() {
	make_target
	chmod 0777 "$CASE/target"
	install -d -m 0755 "$CASE/roots"
	ln -s "$CASE/target" "$CASE/roots/link"
	export PORTREDIR_RUNTIME_DIRECTORY=$CASE/roots/link/portredir
	expect_runtime_refused "directory $CASE/target on its path is writable by group or others (mode 0777); run 'chmod go-w $CASE/target'"
}

test_a_runtime_directory_in_a_directory_others_may_write_is_not_used() {
	make_target
	chmod 0775 "$CASE/target"
	export PORTREDIR_RUNTIME_DIRECTORY=$CASE/target/portredir
	expect_runtime_refused "directory $CASE/target on its path is writable by group or others (mode 0775); run 'chmod go-w $CASE/target'"
}

test_a_runtime_directory_of_another_user_is_not_used() {
	make_target
	chown "$LISTENER_USER" "$CASE/target/portredir"
	export PORTREDIR_RUNTIME_DIRECTORY=$CASE/target/portredir
	expect_runtime_refused "is owned by uid $(id -u "$LISTENER_USER"), not root; run 'chown root $CASE/target/portredir'"
}

# Through root's own link to root's directory, all is well: the records and
# the lock go there, and of the files already there none is removed.
test_a_link_of_roots_to_roots_directory_is_followed_and_only_records_are_pruned() {
	local ns i
	make_target
	install -d -m 0755 "$CASE/roots"
	ln -s "$CASE/target" "$CASE/roots/link"
	export PORTREDIR_RUNTIME_DIRECTORY=$CASE/roots/link/portredir
	fingerprint_target | grep -v '^\./portredir ' >"$TEST_DIR/before"
	# 17 tables in 17 namespaces: one record more than are kept.
	for i in $(seq 1 17); do
		netns_make ns "n$i"
		portredir_in "$ns" -q -f "$RULES_DIR" apply
	done
	expect_eq "records portredir wrote and kept" 16 \
		"$(grep -l '^prelems' "$CASE/target/portredir"/???????????????? | wc -l)"
	expect_eq "lock files portredir made" 17 "$(find "$CASE/target/portredir" -name 'netns-*.lock' -newer "$TEST_DIR/before" | wc -l)"
	# Everything that was there before is there still, unchanged.
	fingerprint_target | grep -v '^\./portredir ' >"$TEST_DIR/after"
	if ! grep -vxFf "$TEST_DIR/after" "$TEST_DIR/before" >"$TEST_DIR/missing"; then
		return 0
	fi
	diag "files that were there before changed or went:"
	sed 's/^/#   /' "$TEST_DIR/missing" >&2
	return 1
}

run_tests
