#!/bin/bash
# Every message prints file names and other user-supplied text with
# control characters escaped (\x1b, like ls --quoting-style=escape), so
# that a name holding an escape sequence cannot recolour, move or rewrite
# what a terminal or a log shows: a drop-in so named, a directory, the
# command line, the holder of the turn, watch's log.
. "$(dirname "$0")/lib.sh"

ESC=$'\e'
# What a terminal would run: red, then the cursor home and the screen
# cleared.
SEQUENCE="$ESC[31m$ESC[H$ESC[2J"
ESCAPED='\x1b[31m\x1b[H\x1b[2J'

# expect_no_control_characters WHAT TEXT: TEXT has no byte below 0x20 but
# newlines, and no DEL.
expect_no_control_characters() {
	if LC_ALL=C grep -q '[[:cntrl:]]' <<<"$2"; then
		diag "$1 holds control characters:"
		printf '%s\n' "$2" | cat -v | sed 's/^/#   /' >&2
		return 1
	fi
}

test_a_drop_in_named_with_an_escape_sequence_is_named_escaped() {
	local ns directory=$TEST_DIR/drop-ins.d
	netns_make ns host
	install -d -m 0755 "$directory"
	write_mapping "$directory/10-web.conf" 'redirect tcp 80 to 8080'
	write_mapping "$directory/20-${SEQUENCE}red.conf" 'redirct tcp 443 to 8443'
	run_captured portredir_in "$ns" -f "$directory" apply
	expect_eq "exit status of apply" 2 "$RUN_STATUS"
	expect_eq "stderr of apply" "$directory/20-${ESCAPED}red.conf:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?
    1 | redirct tcp 443 to 8443
      | ^~~~~~~
portredir: error: $directory: 1 error; nothing was changed" "$RUN_ERR"
	expect_no_control_characters "stderr of apply" "$RUN_ERR"
	run_captured portredir_in "$ns" -f "$directory" check
	expect_eq "exit status of check" 2 "$RUN_STATUS"
	expect_eq "first line of check" "$directory/20-${ESCAPED}red.conf:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?" \
		"$(head -n 1 <<<"$RUN_ERR")"
	expect_no_control_characters "stderr of check" "$RUN_ERR"
	expect_no_table "$ns"
}

test_a_directory_named_with_an_escape_sequence_is_named_escaped() {
	local ns directory=$TEST_DIR/$SEQUENCE
	netns_make ns host
	install -d -m 0755 "$directory"
	write_mapping "$directory/rules.conf" 'redirect tcp 80 to 8080'
	chmod 0664 "$directory/rules.conf"
	run_captured portredir_in "$ns" -f "$directory/rules.conf" apply
	expect_eq "exit status of apply" 2 "$RUN_STATUS"
	expect_eq "stderr of apply" "$TEST_DIR/$ESCAPED/rules.conf: error: is writable by group or others (mode 0664); run 'chmod go-w $TEST_DIR/$ESCAPED/rules.conf'
portredir: error: $TEST_DIR/$ESCAPED/rules.conf: 1 error; nothing was changed" "$RUN_ERR"
	chmod 0644 "$directory/rules.conf"
	run_captured portredir_in "$ns" -v -f "$directory/rules.conf" apply
	expect_eq "exit status of apply -v" 0 "$RUN_STATUS"
	grep -qxF "portredir: read $TEST_DIR/$ESCAPED/rules.conf: 1 redirect" <<<"$RUN_ERR" ||
		{ diag "no escaped -v line in: $(cat -v <<<"$RUN_ERR")"; return 1; }
	expect_no_control_characters "stderr of apply -v" "$RUN_ERR"
}

# What the user typed, and the runtime directory's name under -v.
test_the_command_line_and_the_runtime_directory_are_named_escaped() {
	local ns
	netns_make ns host
	run_captured "$PORTREDIR" "--${SEQUENCE}" check
	expect_eq "exit status" 2 "$RUN_STATUS"
	expect_eq "stderr" "portredir: error: unknown option '--$ESCAPED'; see 'portredir help'" "$RUN_ERR"
	run_captured "$PORTREDIR" "${SEQUENCE}"
	expect_eq "stderr for an unknown command" "portredir: error: unknown command '$ESCAPED'; see 'portredir help' for the commands" "$RUN_ERR"
	install -d -m 0777 "$TEST_DIR/open-$SEQUENCE"
	run_captured env PORTREDIR_RUNTIME_DIRECTORY="$TEST_DIR/open-$SEQUENCE/run" \
		ip netns exec "$ns" "$PORTREDIR" -v -f "$RULES_DIR" apply
	expect_eq "exit status of apply" 0 "$RUN_STATUS"
	grep -qxF "portredir: no turn against concurrent runs: $TEST_DIR/open-$ESCAPED/run: directory $TEST_DIR/open-$ESCAPED on its path is writable by group or others (mode 0777); run 'chmod go-w $TEST_DIR/open-$ESCAPED'; the batch's generation still guards the rules" <<<"$RUN_ERR" ||
		{ diag "no escaped line in: $(cat -v <<<"$RUN_ERR")"; return 1; }
	expect_no_control_characters "stderr of apply -v" "$RUN_ERR"
}

# The holder of the turn writes its own command line: shown escaped.
test_the_holder_of_the_turn_is_named_escaped() {
	local ns lock pid status=0 i
	netns_make ns host
	portredir_in "$ns" -q -f "$RULES_DIR" apply
	lock=$PORTREDIR_RUNTIME_DIRECTORY/netns-$(in_ns "$ns" stat -L -c %i /proc/self/ns/net).lock
	background "$PYTHON" -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.pwrite(fd, ("4242 0 portredir -f " + sys.argv[2] + " apply\n").encode(), 0)
print("held", flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)' "$lock" "$SEQUENCE.conf" "$TEST_DIR/release" >"$TEST_DIR/held"
	wait_for "the holder" test -s "$TEST_DIR/held"
	portredir_in "$ns" -v -f "$RULES_DIR" apply >/dev/null 2>"$TEST_DIR/err" &
	pid=$!
	for i in $(seq 1 200); do
		grep -qF "waiting for the turn" "$TEST_DIR/err" && break
		sleep 0.05
	done
	touch "$TEST_DIR/release"
	wait "$pid" || status=$?
	expect_eq "exit status of the waiting apply" 0 "$status"
	grep -qxF "portredir: waiting for the turn: another portredir (pid 4242, uid 0: portredir -f $ESCAPED.conf apply) is changing this network namespace" "$TEST_DIR/err" ||
		{ diag "no escaped line in: $(cat -v "$TEST_DIR/err")"; return 1; }
	expect_no_control_characters "stderr of the waiting apply" "$(cat "$TEST_DIR/err")"
}

test_watch_logs_names_escaped() {
	local ns directory=$TEST_DIR/watched-$SEQUENCE pid status=0
	netns_make ns host
	install -d -m 0755 "$directory"
	write_mapping "$directory/rules.conf" 'redirect tcp 80 to 8080'
	ip netns exec "$ns" "$PORTREDIR" -f "$directory/rules.conf" watch 2>"$TEST_DIR/watch.log" &
	pid=$!
	BACKGROUND_PIDS+=("$pid")
	wait_for "watch to start" grep -qF "portredir: watching " "$TEST_DIR/watch.log"
	# A program whose name (the kernel's comm of the committing process)
	# holds an escape sequence.
	install -d -m 0755 "$TEST_DIR/bin"
	cp "$(command -v nft)" "$TEST_DIR/bin/$ESC[31mnft"
	in_ns "$ns" "$TEST_DIR/bin/$ESC[31mnft" flush ruleset
	wait_for "the repair" grep -qF "changed by " "$TEST_DIR/watch.log"
	write_mapping "$directory/.new" 'redirct tcp 80 to 8080'
	mv "$directory/.new" "$directory/rules.conf"
	wait_for "the invalid mapping to be logged" grep -qF "is not valid" "$TEST_DIR/watch.log"
	kill -TERM "$pid"
	wait "$pid" || status=$?
	expect_eq "exit status of watch" 0 "$status"
	expect_eq "the log" "portredir: started: applied 2 changes: ~ table inet portredir: created (missing); + redirect tcp 80 to 8080
portredir: watching $TEST_DIR/watched-$ESCAPED/rules.conf and table inet portredir
portredir: table inet portredir changed by \x1b[31mnft (pid PID): applied 2 changes: ~ table inet portredir: created (missing); + redirect tcp 80 to 8080
$TEST_DIR/watched-$ESCAPED/rules.conf:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?
    1 | redirct tcp 80 to 8080
      | ^~~~~~~
portredir: error: $TEST_DIR/watched-$ESCAPED/rules.conf: 1 error; nothing was changed
portredir: error: $TEST_DIR/watched-$ESCAPED/rules.conf is not valid; keeping the last valid mapping until it is fixed
portredir: stopping on Terminated; the rules stay in place" "$(sed 's/(pid [0-9]*)/(pid PID)/' "$TEST_DIR/watch.log")"
}

run_tests
