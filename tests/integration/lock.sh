#!/bin/bash
# The turn that changing runs take per network namespace (src/lock.h): no
# process without CAP_NET_ADMIN can take, hold, fake or delay it. A user
# squatting every name and file it could guess (the old abstract socket
# name among them) delays no apply, flush or watch; a privileged holder is
# waited for, and named; root and the service user take turns in the
# service user's runtime directory.
. "$(dirname "$0")/lib.sh"

# The namespace's lock file, as portredir names it.
lock_file_of() {
	printf '%s/netns-%s.lock\n' "$PORTREDIR_RUNTIME_DIRECTORY" "$(in_ns "$1" stat -L -c %i /proc/self/ns/net)"
}

# Run as nobody in the namespace: binds every abstract name and flock()s
# every file a squatter could guess, reports what it could not get (the
# real lock file, which it must not be able to open or make), writes
# that on stdout and holds on until killed.
SQUATTER_PROGRAM='
import fcntl, os, socket, sys, time
runtime, inode = sys.argv[1], sys.argv[2]
held = []
names = ["portredir/apply", "portredir", "portredir/lock", "portredir/netns-%s.lock" % inode,
         "portredir-lock", runtime + "/netns-%s.lock" % inode, "/run/portredir/netns-%s.lock" % inode]
for name in names:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
        s = socket.socket(socket.AF_UNIX, kind)
        s.bind("\0" + name)
        if kind != socket.SOCK_DGRAM:
            s.listen(1)
        held.append(s)
report = []
for path in ["/run/lock/portredir.lock", "/run/lock/portredir-%s.lock" % inode, "/tmp/portredir.lock",
             "/tmp/portredir-netns-%s.lock" % inode, "/dev/shm/portredir.lock", "/dev/shm/netns-%s.lock" % inode]:
    f = open(path, "a")
    fcntl.flock(f, fcntl.LOCK_EX)
    held.append(f)
    report.append("held " + path)
for path in [runtime + "/netns-%s.lock" % inode, runtime + "/squatted.lock"]:
    for flags in (os.O_RDONLY, os.O_RDWR | os.O_CREAT):
        try:
            held.append(os.open(path, flags, 0o600))
            report.append("opened " + path)
        except OSError as error:
            report.append("refused %s: %s" % (path.replace(runtime, "RUNTIME"), os.strerror(error.errno)))
sys.stdout.write("\n".join(report) + "\n")
sys.stdout.flush()
while True:
    time.sleep(60)
'

# The files the squatter makes outside the test directory, removed after.
SQUATTED_FILES=()

start_squatter() {
	local ns=$1 inode path
	inode=$(in_ns "$ns" stat -L -c %i /proc/self/ns/net)
	for path in /run/lock/portredir.lock "/run/lock/portredir-$inode.lock" /tmp/portredir.lock \
		"/tmp/portredir-netns-$inode.lock" /dev/shm/portredir.lock "/dev/shm/netns-$inode.lock"; do
		# Never someone else's file.
		[ ! -e "$path" ] || skip_test "$path exists on this host; not squatting it"
		SQUATTED_FILES+=("$path")
	done
	trap 'rm -f "${SQUATTED_FILES[@]}"; cleanup_test' EXIT
	background in_ns_as "$ns" "$LISTENER_USER" "$PYTHON" -c "$SQUATTER_PROGRAM" \
		"$PORTREDIR_RUNTIME_DIRECTORY" "$inode" >"$TEST_DIR/squatter-ready"
	wait_for "the squatter to hold everything" test -s "$TEST_DIR/squatter-ready"
	expect_eq "what the squatter could not get" 'refused RUNTIME/netns-'"$inode"'.lock: Permission denied
refused RUNTIME/netns-'"$inode"'.lock: Permission denied
refused RUNTIME/squatted.lock: Permission denied
refused RUNTIME/squatted.lock: Permission denied' "$(grep -v '^held ' "$TEST_DIR/squatter-ready")"
	# The old lock's name, bound three times over (one socket of each type).
	expect_eq "sockets bound to @portredir/apply" 3 "$(in_ns "$ns" grep -c ' @portredir/apply$' /proc/net/unix)"
}

# timed NAME COMMAND...: runs COMMAND with a generous bound of 5 s,
# captured, and says how long it took (diagnostics only).
timed() {
	local name=$1 start end
	shift
	start=$(date +%s%N)
	run_captured timeout 5 "$@"
	end=$(date +%s%N)
	diag "$name took $(((end - start) / 1000000)) ms"
}

test_a_squatter_of_every_name_delays_no_apply_flush_or_watch() {
	local ns mapping=$TEST_DIR/web.conf start pid status=0
	netns_make ns host
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	# The runtime directory exists, as it does once anything ran.
	install -d -m 0700 "$PORTREDIR_RUNTIME_DIRECTORY"
	start_squatter "$ns"
	timed apply ip netns exec "$ns" "$PORTREDIR" -f "$mapping" apply
	expect_eq "exit status of apply" 0 "$RUN_STATUS"
	expect_eq "stdout of apply" '~ table inet portredir: created (missing)
+ redirect tcp 80 to 8080' "$RUN_OUT"
	expect_eq "stderr of apply" "" "$RUN_ERR"
	timed flush ip netns exec "$ns" "$PORTREDIR" flush
	expect_eq "exit status of flush" 0 "$RUN_STATUS"
	expect_eq "stdout of flush" '- table inet portredir' "$RUN_OUT"
	expect_eq "stderr of flush" "" "$RUN_ERR"
	# watch has done its first apply when it says it is watching (within
	# 5 s, or wait_for fails); it is stopped right after.
	start=$(date +%s%N)
	ip netns exec "$ns" "$PORTREDIR" -f "$mapping" watch 2>"$TEST_DIR/watch.log" &
	pid=$!
	BACKGROUND_PIDS+=("$pid")
	wait_for "watch's first apply" grep -q '^portredir: watching ' "$TEST_DIR/watch.log"
	diag "watch took $((($(date +%s%N) - start) / 1000000)) ms to apply and say it is watching"
	kill -TERM "$pid"
	wait "$pid" || status=$?
	expect_eq "exit status of watch" 0 "$status"
	expect_eq "log of watch" "portredir: started: applied 2 changes: ~ table inet portredir: created (missing); + redirect tcp 80 to 8080
portredir: watching $mapping and table inet portredir
portredir: stopping on Terminated; the rules stay in place" "$(cat "$TEST_DIR/watch.log")"
	expect_table "$ns" "$(table_text '80 : 8080' '')"
}

# hold_turn NS UID CONTENT: a process of uid UID (root's, or the service
# user's) holding the namespace's turn, its lock file saying CONTENT, until
# $TEST_DIR/release exists.
HOLDER_PROGRAM='
import fcntl, os, sys, time
path, content, release = sys.argv[1:4]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0)
os.pwrite(fd, content.encode() + b"\n", 0)
print("held", flush=True)
while not os.path.exists(release):
    time.sleep(0.02)
'

hold_turn() {
	local ns=$1 uid=$2 content=$3
	rm -f "$TEST_DIR/held" "$TEST_DIR/release"
	background in_ns "$ns" setpriv --reuid="$uid" --regid="$uid" --clear-groups "$PYTHON" -c "$HOLDER_PROGRAM" \
		"$(lock_file_of "$ns")" "$content" "$TEST_DIR/release" >"$TEST_DIR/held"
	wait_for "the holder to hold the turn" test -s "$TEST_DIR/held"
}

# release_when_said FILE TEXT: lets the holder go once FILE (a run's
# stderr) contains TEXT, within 10 s; fails otherwise.
release_when_said() {
	local i
	for i in $(seq 1 200); do
		if grep -qF -- "$2" "$1" 2>/dev/null; then
			touch "$TEST_DIR/release"
			return 0
		fi
		sleep 0.05
	done
	touch "$TEST_DIR/release"
	diag "never said: $2"
	diag "said: $(cat "$1")"
	return 1
}

# A privileged holder is waited for, and named after a second (at once
# with -v); the run then goes on.
test_a_run_waits_for_a_privileged_holder_and_says_who_it_is() {
	local ns mapping=$TEST_DIR/web.conf pid status=0
	netns_make ns host
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	portredir_in "$ns" -q -f "$mapping" apply
	hold_turn "$ns" 0 "4242 0 portredir -f /etc/portredir/rules.conf apply"
	write_mapping "$mapping" 'redirect tcp 80 to 9090'
	portredir_in "$ns" -f "$mapping" apply >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
	pid=$!
	release_when_said "$TEST_DIR/err" "portredir: warning: another portredir (pid 4242, uid 0: portredir -f /etc/portredir/rules.conf apply) is changing this network namespace; waiting up to 30 s for its turn to end"
	wait "$pid" || status=$?
	expect_eq "exit status of the waiting apply" 0 "$status"
	expect_eq "stdout of the waiting apply" '- redirect tcp 80 to 8080
+ redirect tcp 80 to 9090' "$(cat "$TEST_DIR/out")"
	expect_eq "lines on stderr" 1 "$(wc -l <"$TEST_DIR/err")"
	# With -v it says so at once.
	hold_turn "$ns" 0 "4343 0 portredir flush"
	portredir_in "$ns" -v flush >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
	pid=$!
	release_when_said "$TEST_DIR/err" "portredir: waiting for the turn: another portredir (pid 4343, uid 0: portredir flush) is changing this network namespace"
	status=0
	wait "$pid" || status=$?
	expect_eq "exit status of the waiting flush" 0 "$status"
	expect_eq "stdout of the waiting flush" '- table inet portredir' "$(cat "$TEST_DIR/out")"
}

# A fake passwd naming the service user, in a mount namespace of the
# test's own: the host's users are not touched.
SERVICE_UID=64123

with_service_user() {
	cp /etc/passwd "$TEST_DIR/passwd"
	echo "portredir:x:$SERVICE_UID:$SERVICE_UID:portredir test:/:/usr/sbin/nologin" >>"$TEST_DIR/passwd"
	unshare -m --propagation private bash -c 'mount --bind "$1" /etc/passwd && shift && exec "$@"' \
		with-service-user "$TEST_DIR/passwd" "$@"
}

as_service_user() {
	local ns=$1
	shift
	in_ns "$ns" setpriv --reuid="$SERVICE_UID" --regid="$SERVICE_UID" --clear-groups \
		--inh-caps=-all,+net_admin --ambient-caps=+net_admin --bounding-set=-all,+net_admin "$@"
}

# systemd makes the runtime directory the service user's: root's runs
# lock in it (the files they make are the service user's), and the two
# take turns; without such a user, root does not trust the directory.
test_root_and_the_service_user_take_turns_in_its_directory() {
	local ns mapping=$TEST_DIR/web.conf pid status=0
	netns_make ns host
	write_mapping "$mapping" 'redirect tcp 80 to 8080'
	export PORTREDIR_RUNTIME_DIRECTORY=$TEST_DIR/service-run
	install -d -m 0700 -o "$SERVICE_UID" -g "$SERVICE_UID" "$PORTREDIR_RUNTIME_DIRECTORY"
	run_captured with_service_user ip netns exec "$ns" "$PORTREDIR" -f "$mapping" apply
	expect_eq "exit status of root's apply" 0 "$RUN_STATUS"
	expect_eq "stderr of root's apply" "" "$RUN_ERR"
	expect_eq "the lock file root made" "600 $SERVICE_UID" "$(stat -c '%a %u' "$(lock_file_of "$ns")")"
	# One root made before the directory was the service user's is given
	# to that user by root's next run.
	chown 0:0 "$(lock_file_of "$ns")"
	with_service_user ip netns exec "$ns" "$PORTREDIR" -q -f "$mapping" apply
	expect_eq "root's old lock file" "600 $SERVICE_UID" "$(stat -c '%a %u' "$(lock_file_of "$ns")")"
	# The service user holds the turn: root waits for it.
	hold_turn "$ns" "$SERVICE_UID" "5151 $SERVICE_UID portredir watch"
	write_mapping "$mapping" 'redirect tcp 80 to 9090'
	with_service_user ip netns exec "$ns" "$PORTREDIR" -v -f "$mapping" apply >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
	pid=$!
	release_when_said "$TEST_DIR/err" "portredir: waiting for the turn: another portredir (pid 5151, uid $SERVICE_UID: portredir watch) is changing this network namespace"
	wait "$pid" || status=$?
	expect_eq "exit status of root's waiting apply" 0 "$status"
	# Root holds it: the service user waits.
	hold_turn "$ns" 0 "6161 0 portredir apply"
	as_service_user "$ns" "$PORTREDIR" -v flush >"$TEST_DIR/out" 2>"$TEST_DIR/err" &
	pid=$!
	release_when_said "$TEST_DIR/err" "portredir: waiting for the turn: another portredir (pid 6161, uid 0: portredir apply) is changing this network namespace"
	status=0
	wait "$pid" || status=$?
	expect_eq "exit status of the service user's waiting flush" 0 "$status"
	expect_eq "stdout of the service user's flush" '- table inet portredir' "$(cat "$TEST_DIR/out")"
	# No service user: a directory of uid 64123 is nobody root knows.
	! getent passwd portredir >/dev/null || skip_test "this host has a user named portredir"
	run_captured portredir_in "$ns" -v -f "$mapping" apply
	expect_eq "exit status of root's apply without a service user" 0 "$RUN_STATUS"
	grep -qxF "portredir: no turn against concurrent runs: $PORTREDIR_RUNTIME_DIRECTORY: is owned by uid $SERVICE_UID, not root; run 'chown root $PORTREDIR_RUNTIME_DIRECTORY'; the batch's generation still guards the rules" <<<"$RUN_ERR" ||
		{ diag "no such line in: $RUN_ERR"; return 1; }
}

run_tests
