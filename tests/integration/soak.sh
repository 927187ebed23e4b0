#!/bin/bash
# A soak of portredir watch: for SOAK_SECONDS (60 in make check; set it
# for longer runs), another process churns everything watch follows, one
# change at a time: nft deleting map elements, adding foreign rules to
# the managed chains, deleting chains, flushing the ruleset; the mapping
# edited in place, renamed over, made invalid and fixed; the sysctl
# changed. Each change must be acted on (its log line, and the kernel as
# the file says, within 20 s); at the end the kernel equals the file
# exactly, and watch's open descriptors and resident memory are what they
# were after its first quarter of the run (at most its first minute).
. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-60}
# Resident memory may move by allocator noise, never grow with the run.
RSS_BOUND_KIB=${SOAK_RSS_BOUND_KIB:-256}

# An ASan build holds freed memory in quarantine, which grows resident
# memory until it is full whatever the program does: none here.
if grep -qa __asan_init "$PORTREDIR" 2>/dev/null; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
	RSS_BOUND_KIB=${SOAK_RSS_BOUND_KIB:-1024}
fi

MAPPING_DIR=$TEST_DIR/soak
MAPPING=$MAPPING_DIR/rules.conf
LOG=$TEST_DIR/soak.log

# mapping_text K: the K-th version of the mapping; each one moves the
# target of tcp 80, so that applying it always changes something.
mapping_text() {
	printf '%s\n' 'unprivileged_port_start 1000' \
		"redirect tcp 80 to $((10000 + $1))" \
		'redirect tcp,udp 443 to 8443' \
		'redirect udp 53 to 5353' \
		'redirect tcp 22 to 2222'
}

# log_count TEXT: log lines containing TEXT.
log_count() {
	grep -cF -- "$1" "$LOG" || true
}

in_sync_with() {
	portredir_in "$NS" -q -f "$1" diff >/dev/null 2>&1
}

sysctl_value() {
	in_ns "$NS" cat /proc/sys/net/ipv4/ip_unprivileged_port_start
}

# acted_on TEXT BEFORE FILE: a new log line with TEXT (more than BEFORE of
# them), and the kernel in sync with FILE; polled for 20 s.
acted_on() {
	local text=$1 before=$2 file=$3 i
	for i in $(seq 1 400); do
		if [ "$(log_count "$text")" -gt "$before" ] && in_sync_with "$file"; then
			return 0
		fi
		sleep 0.05
	done
	diag "not acted on within 20 s: expected a log line with '$text' and the kernel as $file says"
	diag "last log lines: $(tail -n 3 "$LOG")"
	return 1
}

# write_in_place TEXT / write_by_rename TEXT: the two ways editors save.
write_in_place() {
	printf '%s\n' "$1" >"$MAPPING"
}

write_by_rename() {
	printf '%s\n' "$1" >"$MAPPING_DIR/.rules.conf.new"
	chmod 0644 "$MAPPING_DIR/.rules.conf.new"
	mv "$MAPPING_DIR/.rules.conf.new" "$MAPPING"
}

resources_of() {
	printf '%s fds, %s KiB\n' "$(find "/proc/$1/fd" -mindepth 1 | wc -l)" \
		"$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status")"
}

test_watch_acts_on_every_change_for_the_whole_soak_and_stays_flat() {
	local pid version=0 kind=0 started now baseline_at baseline="" final before text
	local -A done=() acted=()
	netns_make NS host
	install -d -m 0755 "$MAPPING_DIR"
	mapping_text "$version" >"$MAPPING"
	chmod 0644 "$MAPPING"
	cp "$MAPPING" "$TEST_DIR/valid.conf"
	ip netns exec "$NS" "$PORTREDIR" -f "$MAPPING" --interval 1 watch 2>"$LOG" &
	pid=$!
	BACKGROUND_PIDS+=("$pid")
	wait_for "watch to start" grep -qF "watching $MAPPING" "$LOG"
	started=$SECONDS
	baseline_at=$((SOAK_SECONDS / 4))
	[ "$baseline_at" -le 60 ] || baseline_at=60
	while [ $((SECONDS - started)) -lt "$SOAK_SECONDS" ]; do
		if [ -z "$baseline" ] && [ $((SECONDS - started)) -ge "$baseline_at" ]; then
			baseline=$(resources_of "$pid")
			diag "after $baseline_at s: $baseline"
		fi
		case $((kind % 10)) in
		0) name="element deleted"
			text="table inet portredir changed by nft"
			before=$(log_count "$text")
			in_ns "$NS" nft delete element inet portredir udp_redirects '{ 443 }' ;;
		1) name="foreign rule added"
			text="table inet portredir changed by nft"
			before=$(log_count "$text")
			in_ns "$NS" nft add rule inet portredir output meta l4proto tcp counter accept ;;
		2) name="chain deleted"
			text="table inet portredir changed by nft"
			before=$(log_count "$text")
			in_ns "$NS" nft delete chain inet portredir prerouting ;;
		3) name="ruleset flushed"
			text="table inet portredir changed by nft"
			before=$(log_count "$text")
			in_ns "$NS" nft flush ruleset ;;
		4) name="mapping edited in place"
			version=$((version + 1))
			text="$MAPPING changed: applied"
			before=$(log_count "$text")
			write_in_place "$(mapping_text "$version")"
			cp "$MAPPING" "$TEST_DIR/valid.conf" ;;
		5) name="mapping renamed over"
			version=$((version + 1))
			text="$MAPPING changed: applied"
			before=$(log_count "$text")
			write_by_rename "$(mapping_text "$version")"
			cp "$MAPPING" "$TEST_DIR/valid.conf" ;;
		6) name="mapping made invalid"
			text="$MAPPING is not valid; keeping the last valid mapping"
			before=$(log_count "$text")
			write_by_rename "$(mapping_text "$version" | sed 's/^redirect tcp 22/redirct tcp 22/')" ;;
		7) name="mapping fixed"
			version=$((version + 1))
			text="$MAPPING changed: applied"
			before=$(log_count "$text")
			write_in_place "$(mapping_text "$version")"
			cp "$MAPPING" "$TEST_DIR/valid.conf" ;;
		8) name="sysctl changed"
			# After a flush, the table is recreated first to record
			# the value found as the one to restore.
			text="net.ipv4.ip_unprivileged_port_start drifted: applied"
			before=$(log_count "$text")
			in_ns "$NS" sh -c "echo $((1001 + kind % 7)) >/proc/sys/net/ipv4/ip_unprivileged_port_start" ;;
		9) name="foreign rule added to prerouting"
			text="table inet portredir changed by nft"
			before=$(log_count "$text")
			in_ns "$NS" nft insert rule inet portredir prerouting meta l4proto udp drop ;;
		esac
		done[$name]=$((${done[$name]:-0} + 1))
		acted_on "$text" "$before" "$TEST_DIR/valid.conf"
		acted[$name]=$((${acted[$name]:-0} + 1))
		[ "$(sysctl_value)" = 1000 ] || { diag "after '$name' the sysctl is $(sysctl_value)"; return 1; }
		kind=$((kind + 1))
	done
	final=$(resources_of "$pid")
	for name in $(printf '%s\n' "${!done[@]}" | sort | tr ' ' '_'); do
		name=${name//_/ }
		diag "$name: ${done[$name]} times, acted on ${acted[$name]:-0}"
		expect_eq "times '$name' was acted on" "${done[$name]}" "${acted[$name]:-0}"
	done
	diag "$kind changes in $SOAK_SECONDS s; at the end: $final"
	[ "$kind" -ge 10 ] || { diag "too few changes to tell"; return 1; }
	# The kernel is exactly the last valid mapping: nothing else in the
	# ruleset, the table's layout, the sysctl. A chain recreated last is
	# listed last: the objects are compared in any order.
	expect_eq "the ruleset (maps and chains in any order)" \
		"$(table_text "22 : 2222, 80 : $((10000 + version)), 443 : 8443" '53 : 5353, 443 : 8443' | sort_table_objects)" \
		"$(in_ns "$NS" nft list ruleset | sort_table_objects)"
	expect_eq "the sysctl" 1000 "$(sysctl_value)"
	expect_eq "watch's open descriptors at the end and after $baseline_at s" \
		"${baseline%%,*}" "${final%%,*}"
	local rss_baseline rss_final
	rss_baseline=${baseline#*, }
	rss_baseline=${rss_baseline% KiB}
	rss_final=${final#*, }
	rss_final=${rss_final% KiB}
	if [ $((rss_final - rss_baseline)) -gt "$RSS_BOUND_KIB" ]; then
		diag "watch's resident memory grew from $rss_baseline KiB to $rss_final KiB (bound: $RSS_BOUND_KIB KiB)"
		return 1
	fi
	# No error other than the invalid mapping's, and watch still runs.
	expect_eq "error lines other than the invalid mapping's" "" \
		"$(grep 'error' "$LOG" | grep -vF -e "$MAPPING:5:1: error: unknown directive 'redirct'; did you mean 'redirect'?" \
			-e "$MAPPING: 1 error; nothing was changed" -e "$MAPPING is not valid; keeping the last valid mapping" || true)"
	kill -0 "$pid"
}

run_tests
