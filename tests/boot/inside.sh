#!/bin/bash
# Runs inside the booted test system (see check-boot.sh), started by
# portredir-boot-test.service once multi-user.target was reached. Checks
# what the boot did, as TAP, into /results/tap; /results/mode says which
# boot this is: "valid" (rules.conf is a valid mapping), "broken" (it is
# not), "watch" (portredir-watch.service instead of the oneshot), or
# "package" (the Debian package's, with upgrade, removal and purge). The
# system powers off when this script ends, whatever it found.
set -u
MODE=$(cat /results/mode)
RULES=/etc/portredir/rules.conf
number=0
exec 3>/results/tap.partial

ok() {
	number=$((number + 1))
	echo "ok $number - $*" >&3
}

not_ok() {
	number=$((number + 1))
	echo "not ok $number - $*" >&3
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /' >&3
}

# check DESCRIPTION COMMAND...: one test, passed when COMMAND succeeds.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[ "$2" = "$3" ] && return 0
	diag "$1: expected:" "$2" "$1: got:" "$3"
	return 1
}

# wait_until WHAT COMMAND...: a bounded poll (10 s) for COMMAND to succeed,
# for what systemd does in the background after a file changed; only the
# last attempt's diagnostics are kept.
wait_until() {
	local what=$1 i
	shift
	for i in $(seq 1 100); do
		"$@" 3>/dev/null && return 0
		sleep 0.1
	done
	diag "timed out waiting for $what"
	"$@"
}

property() {
	systemctl show -P "$2" "$1"
}

# unit_is UNIT PROPERTY=VALUE...
unit_is() {
	local unit=$1 pair
	shift
	for pair in "$@"; do
		expect_eq "$unit ${pair%%=*}" "${pair#*=}" "$(property "$unit" "${pair%%=*}")" || return 1
	done
}

sysctl_is() {
	expect_eq "net.ipv4.ip_unprivileged_port_start" "$1" \
		"$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
}

# table_is TCP_ELEMENTS UDP_ELEMENTS: the managed table is exactly the
# layout of docs/kernel.md with these map elements ("80 : 8080, 443 : 8443"), as
# nft (with netbase) lists it; an empty map has no elements line.
table_is() {
	local expected map chain
	expected=$(
		echo 'table inet portredir {'
		for map in "tcp $1" "udp $2"; do
			printf '\tmap %s_redirects {\n\t\ttype inet_service : inet_service\n' "${map%% *}"
			[ -z "${map#* }" ] || printf '\t\telements = { %s }\n' "${map#* }"
			printf '\t}\n\n'
		done
		for chain in 'prerouting priority dstnat' 'output priority -100'; do
			printf '\tchain %s {\n' "${chain%% *}"
			printf '\t\ttype nat hook %s; policy accept;\n' "$chain"
			printf '\t\tfib daddr type local meta l4proto tcp redirect to :tcp dport map @tcp_redirects\n'
			printf '\t\tfib daddr type local meta l4proto udp redirect to :udp dport map @udp_redirects\n'
			printf '\t}\n'
			[ "${chain%% *}" = output ] || echo
		done
		echo '}'
	)
	expect_eq "nft list table inet portredir" "$expected" "$(nft list table inet portredir 2>&1)"
}

ruleset_is_empty() {
	expect_eq "nft list ruleset" "" "$(nft list ruleset 2>&1)"
}

journal_of() {
	journalctl -b -q -o cat --no-pager -u "$1"
}

# journal_has UNIT LINE...: each LINE appears as a whole line in the
# journal of UNIT in this boot.
journal_has() {
	local unit=$1 line journal
	shift
	journal=$(journal_of "$unit")
	for line in "$@"; do
		if ! grep -qxF -- "$line" <<<"$journal"; then
			diag "journal of $unit has no line: $line" "it has:" "$journal"
			return 1
		fi
	done
}

# unit_finished_before UNIT TARGET: UNIT's main process exited, and UNIT
# became active, before TARGET was reached (monotonic clock, microseconds).
unit_finished_before() {
	local exited active reached
	exited=$(property "$1" ExecMainExitTimestampMonotonic)
	active=$(property "$1" ActiveEnterTimestampMonotonic)
	reached=$(property "$2" ActiveEnterTimestampMonotonic)
	if [ "$exited" -gt 0 ] && [ "$active" -gt 0 ] && [ "$reached" -gt 0 ] &&
		[ "$exited" -le "$reached" ] && [ "$active" -le "$reached" ]; then
		return 0
	fi
	diag "$1 exited at $exited, active at $active; $2 reached at $reached"
	return 1
}

# ran_unprivileged UNIT: the identity portredir ran with in UNIT, from the
# journal's record of the process that wrote its output: a dynamic user
# (not root), CAP_NET_ADMIN only.
ran_unprivileged() {
	local fields uid capabilities
	fields=$(journalctl -b -q -o export --no-pager _SYSTEMD_UNIT="$1" _COMM=portredir)
	uid=$(sed -n 's/^_UID=//p' <<<"$fields" | sort -u)
	capabilities=$(sed -n 's/^_CAP_EFFECTIVE=//p' <<<"$fields" | sort -u)
	if [ -n "$uid" ] && [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] && [ "$capabilities" = 1000 ]; then
		return 0
	fi
	diag "$1: portredir ran as uid '$uid' with effective capabilities '$capabilities'"
	return 1
}

# runtime_directory_is_the_services: systemd made /run/portredir for the
# unit's user (RuntimeDirectory=, User=portredir), 0700, and the unit's
# run left this namespace's lock file in it, 0600; nobody else can enter
# it, let alone open the lock.
runtime_directory_is_the_services() {
	local lock
	lock=/run/portredir/netns-$(stat -L -c %i /proc/self/ns/net).lock
	expect_eq "/run/portredir" "700 portredir" "$(stat -c '%a %U' /run/portredir 2>&1)" &&
		expect_eq "$lock" "600 portredir" "$(stat -c '%a %U' "$lock" 2>&1)" || return 1
	if setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$lock" 2>/dev/null; then
		diag "nobody could open $lock"
		return 1
	fi
}

# roots_run_takes_the_services_turn: root's own apply trusts the service
# user's directory and locks in it (-v would say "no turn" otherwise).
roots_run_takes_the_services_turn() {
	local output
	output=$(portredir -v apply 2>&1) || { diag "$output"; return 1; }
	if grep -q 'no turn against concurrent runs' <<<"$output"; then
		diag "$output"
		return 1
	fi
}

# replace_mapping LINE...: replaces rules.conf in one rename, as editors do.
replace_mapping() {
	printf '%s\n' "$@" >/etc/rules.conf.new
	mv /etc/rules.conf.new "$RULES"
}

# reapply_ended RESULT: portredir-reload.service ended with RESULT and
# portredir.path watches again.
reapply_ended() {
	local state=inactive
	[ "$1" = success ] || state=failed
	unit_is portredir-reload.service ActiveState=$state Result="$1" &&
		unit_is portredir.path SubState=waiting
}

# verify_unit UNIT: systemd-analyze verify has nothing to say about the
# installed UNIT. No man pages in the minimal system: make check verifies
# Documentation= on the build host.
verify_unit() {
	local output
	output=$(systemd-analyze verify --man=no "$1" 2>&1) || {
		diag "$output"
		return 1
	}
	expect_eq "systemd-analyze verify $1" "" "$output"
}

boot_with_valid_mapping() {
	check "the boot reached multi-user.target" unit_is multi-user.target ActiveState=active
	check "portredir.service is active" \
		unit_is portredir.service ActiveState=active Result=success ExecMainStatus=0
	check "the table matches the mapping" table_is '80 : 8080, 443 : 8443' '443 : 8443'
	check "the sysctl is set as declared" sysctl_is 1000
	check "portredir diff finds the kernel in sync" portredir diff
	check "apply logged its changes to the journal" journal_has portredir.service \
		'~ table inet portredir: created (missing)' \
		'+ redirect tcp 80 to 8080' '+ redirect tcp 443 to 8443' '+ redirect udp 443 to 8443' \
		'- unprivileged_port_start 1024' '+ unprivileged_port_start 1000'
	check "apply ran as a dynamic user with CAP_NET_ADMIN only" ran_unprivileged portredir.service
	check "portredir.service finished before network-pre.target was reached" \
		unit_finished_before portredir.service network-pre.target
	for unit in $(systemctl list-unit-files --no-legend 'portredir*' |
		awk '$1 != "portredir-boot-test.service" { print $1 }'); do
		check "systemd-analyze verify $unit is clean" verify_unit "$unit"
	done
	check "portredir.path watches /etc/portredir" \
		unit_is portredir.path ActiveState=active SubState=waiting
	check "/run/portredir is the service user's, with the namespace's lock" runtime_directory_is_the_services
	check "root's own apply takes its turn in the service's directory" roots_run_takes_the_services_turn

	replace_mapping 'unprivileged_port_start 1000' 'redirect tcp 80 to 9090' 'redirect tcp,udp 443 to 8443'
	check "editing the mapping re-applies it" \
		wait_until "the edited mapping" table_is '80 : 9090, 443 : 8443' '443 : 8443'
	check "the re-apply was a reload of portredir.service" \
		journal_has portredir.service '- redirect tcp 80 to 8080' '+ redirect tcp 80 to 9090'
	# The path unit does not watch while the unit it started runs.
	check "portredir.path watches again after the re-apply" wait_until "the re-apply to end" \
		reapply_ended success

	replace_mapping 'unprivileged_port_start 900' 'redirect tcp 80 to 8080' 'redirct tcp 443 to 8443'
	check "an invalid edit fails the re-apply" \
		wait_until "the failed re-apply" reapply_ended exit-code
	check "an invalid edit changes nothing" table_is '80 : 9090, 443 : 8443' '443 : 8443'
	check "an invalid edit leaves the sysctl alone" sysctl_is 1000
	check "an invalid edit leaves portredir.service active" \
		unit_is portredir.service ActiveState=active
	check "the invalid edit's error is in the journal" journal_has portredir.service \
		"$RULES:3:1: error: unknown directive 'redirct'; did you mean 'redirect'?"

	systemctl stop portredir.service
	check "stopping portredir.service deletes the table" ruleset_is_empty
	check "stopping portredir.service restores the sysctl" sysctl_is 1024
	check "stopping portredir.service stops portredir.path" \
		unit_is portredir.path ActiveState=inactive
	check "stopping portredir.service removes /run/portredir" test ! -e /run/portredir
}

boot_with_broken_mapping() {
	check "the boot reached multi-user.target" unit_is multi-user.target ActiveState=active
	check "portredir.service failed" \
		unit_is portredir.service ActiveState=failed Result=exit-code ExecMainStatus=2
	check "the parser's errors are in the journal" journal_has portredir.service \
		"$RULES:3:1: error: unknown directive 'redirct'; did you mean 'redirect'?" \
		"$RULES:4:20: error: target port 22 is the same as the port; a redirect to itself does nothing, remove the line" \
		"$RULES:5:22: error: invalid target port '53a': unexpected 'a'; expected a number from 1 to 65535" \
		"portredir: error: $RULES: 3 errors; nothing was changed"
	check "nothing was half-applied: no table" ruleset_is_empty
	check "nothing was half-applied: the sysctl is the kernel's default" sysctl_is 1024

	replace_mapping 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080'
	check "fixing the mapping starts portredir.service" \
		wait_until "portredir.service to start" unit_is portredir.service ActiveState=active
	check "the fixed mapping is applied" table_is '80 : 8080' ''
}

# unit_ready_before UNIT TARGET: a Type=notify UNIT said READY=1 (became
# active) before TARGET was reached.
unit_ready_before() {
	local active reached
	active=$(property "$1" ActiveEnterTimestampMonotonic)
	reached=$(property "$2" ActiveEnterTimestampMonotonic)
	[ "$active" -gt 0 ] && [ "$reached" -gt 0 ] && [ "$active" -le "$reached" ] && return 0
	diag "$1 active at $active; $2 reached at $reached"
	return 1
}

# journal_at_priority UNIT PRIORITY TEXT: a line of UNIT containing TEXT
# was logged at exactly PRIORITY (the "<N>" prefix watch writes).
journal_at_priority() {
	local lines
	lines=$(journalctl -b -q -o cat --no-pager -u "$1" -p "$2..$2")
	grep -qF -- "$3" <<<"$lines" && return 0
	diag "no line with '$3' at priority $2 in $1; at that priority:" "$lines"
	return 1
}

table_exists() {
	nft list table inet portredir >/dev/null 2>&1
}

repairs_logged() {
	journal_of portredir-watch.service | grep -c 'table inet portredir changed by nft (pid [0-9]*): applied '
}

repair_logged() {
	journal_of portredir-watch.service | grep -q 'table inet portredir changed by nft (pid [0-9]*): applied 4 changes: ~ table inet portredir: created (missing); + redirect tcp 80 to 8080; + redirect tcp 443 to 8443; + redirect udp 443 to 8443$'
}

boot_with_watch() {
	check "the boot reached multi-user.target" unit_is multi-user.target ActiveState=active
	check "portredir-watch.service is running" \
		unit_is portredir-watch.service ActiveState=active SubState=running
	check "portredir.service and portredir.path are not active" \
		unit_is portredir.service ActiveState=inactive
	check "the table matches the mapping" table_is '80 : 8080, 443 : 8443' '443 : 8443'
	check "the sysctl is set as declared" sysctl_is 1000
	check "watch was ready before network-pre.target was reached" \
		unit_ready_before portredir-watch.service network-pre.target
	check "watch runs as a dynamic user with CAP_NET_ADMIN only" ran_unprivileged portredir-watch.service
	check "systemd-analyze verify portredir-watch.service is clean" verify_unit portredir-watch.service
	check "/run/portredir is the service user's, with the namespace's lock" runtime_directory_is_the_services
	check "root's own apply takes its turn in the service's directory" roots_run_takes_the_services_turn

	nft flush ruleset
	check "watch repairs the table after nft flush ruleset" \
		wait_until "the table to come back" table_is '80 : 8080, 443 : 8443' '443 : 8443'
	check "the repair is logged" wait_until "the repair to be logged" repair_logged
	check "the repair is logged once: watch ignores its own transaction" \
		expect_eq "repairs logged" 1 "$(repairs_logged)"
	check "the repair line carries its syslog priority" \
		journal_at_priority portredir-watch.service 5 "changed by nft (pid "

	replace_mapping 'unprivileged_port_start 1000' 'redirect tcp 80 to 9090' 'redirect tcp,udp 443 to 8443'
	check "watch applies an edit of the mapping" \
		wait_until "the edited mapping" table_is '80 : 9090, 443 : 8443' '443 : 8443'
	replace_mapping 'unprivileged_port_start 1000' 'redirct tcp 80 to 8080'
	check "an invalid edit is logged at error priority" \
		wait_until "the error" journal_at_priority portredir-watch.service 3 \
		"$RULES:2:1: error: unknown directive 'redirct'; did you mean 'redirect'?"
	check "an invalid edit leaves the last valid mapping" table_is '80 : 9090, 443 : 8443' '443 : 8443'
	systemctl reload portredir-watch.service
	check "systemctl reload sends SIGHUP" \
		wait_until "the reload" journal_has portredir-watch.service \
		"portredir: SIGHUP: reading $RULES again"
	systemctl stop portredir-watch.service
	check "stopping watch leaves the rules in place" table_exists
	check "watch stopped cleanly" unit_is portredir-watch.service ActiveState=inactive Result=success
}

# answer ADDRESS PORT: what a client on this system gets: the server's
# line, or "refused".
answer() {
	local host=$1
	case $host in *:*) host="[$host]" ;; esac
	socat -T 2 - "TCP:$host:$2" </dev/null 2>/dev/null || echo refused
}

answers() {
	expect_eq "answer of $1 port $2" "$3" "$(answer "$1" "$2")"
}

web_group() {
	stat -c %i /sys/fs/cgroup/system.slice/portredir-test-web.service
}

# reached_within MS: a client reaches the web service on 80 within MS
# milliseconds, trying every 20.
reached_within() {
	local start=$(($(date +%s%N) / 1000000)) now
	while :; do
		now=$(($(date +%s%N) / 1000000))
		[ "$(answer 127.0.0.1 80)" = web ] && break
		[ $((now - start)) -lt "$1" ] || { diag "not reached within $1 ms"; return 1; }
		sleep 0.02
	done
	diag "reached $((now - start)) ms after the restart"
}

boot_with_owners() {
	local before
	check "portredir-watch.service is running" \
		unit_is portredir-watch.service ActiveState=active SubState=running
	check "the web service is running" unit_is portredir-test-web.service ActiveState=active
	check "watch found the web service's group" wait_until "the web service in the table" \
		portredir diff -q
	# A process outside the web service's group, on the target's IPv6
	# side: it gets nothing.
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		socat TCP6-LISTEN:8080,ipv6only=1,fork,reuseaddr "SYSTEM:echo outsider; echo x >>/tmp/outsider.log" &
	wait_until "the outsider to listen" grep -q ' 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A ' \
		/proc/net/tcp6
	check "the web service receives port 80 over IPv4" answers 127.0.0.1 80 web
	check "the process outside it is refused port 80 over IPv6" answers ::1 80 refused
	check "the socket the service manager made is in /init.scope, not the service's group" \
		answers 127.0.0.1 81 refused
	check "an owner naming /init.scope receives it" answers 127.0.0.1 82 activated
	before=$(web_group)
	systemctl restart portredir-test-web.service
	check "after systemctl restart the web service is reached again within a second" reached_within 1000
	check "the restarted service has a new group" expect_eq "group changed" true \
		"$([ "$(web_group)" != "$before" ] && echo true || echo false)"
	check "watch logged the new group" wait_until "watch's log line" sh -c \
		"journalctl -b -q -o cat --no-pager -u portredir-watch.service | grep -q \"an owner's group came or went: applied .*~ owner portredir-test-web.service: updated (group /system.slice/portredir-test-web.service)\""
	check "the process outside got nothing" expect_eq "connections the outsider got" 0 \
		"$(cat /tmp/outsider.log 2>/dev/null | wc -l)"
	check "watch runs as a dynamic user with CAP_NET_ADMIN only" ran_unprivileged portredir-watch.service
	# What the kernel was given here, in nspawn's cgroup namespace.
	diag "cgroup namespace: $(readlink /proc/self/ns/cgroup)" \
		"$(nft list chain inet portredir owner_check | grep -c 'socket cgroupv2') rules of owner_check accept" \
		"$(nft list chain inet portredir owner_check | sed -n 's/.*socket cgroupv2 level \([0-9]*\) @tcp.*/\1/p' | tr '\n' ' ')are its levels"
	kill %1 2>/dev/null
}

# The package's boot (mode "package"): after the valid mapping's checks,
# what an administrator does with the package, through dpkg in the booted
# system. check-boot.sh put a newer version of the same package in
# /results, and a policy-rc.d that records what deb-systemd-invoke asks
# in /run/policy-rc.d.log.
POLICY_LOG=/run/policy-rc.d.log

dpkg_status_is() {
	expect_eq "dpkg-query -W portredir" "$1" "$(dpkg-query -W -f='${Status} ${Version}' portredir 2>&1)"
}

policy_log_is() {
	expect_eq "what deb-systemd-invoke asked policy-rc.d" "$1" "$(cat "$POLICY_LOG" 2>&1)"
}

# echo_through FD WORD: WORD sent over the connection open on FD comes back.
echo_through() {
	local reply=""
	{ printf '%s\n' "$2" >&"$1" && read -r -t 10 reply <&"$1"; } 2>/dev/null
	expect_eq "the echo of '$2'" "$2" "$reply"
}

echo_server_listens() {
	(exec 5<>/dev/tcp/127.0.0.1/8080) 2>/dev/null
}

port_80_refuses() {
	! (exec 5<>/dev/tcp/127.0.0.1/80) 2>/dev/null
}

# journal_since LINES UNIT: UNIT's journal after its first LINES lines.
journal_since() {
	journal_of "$2" | tail -n +"$(($1 + 1))"
}

# reloaded_and_reapplied NEW_LINES: the journal's new lines are one
# reload that put the dropped element back: no stop (whose flush would
# print "- table inet portredir"), no start.
reloaded_and_reapplied() {
	local description
	description=$(property portredir.service Description)
	expect_eq "portredir.service's journal since the upgrade" \
		"$(printf '%s\n' "Reloading portredir.service - $description..." \
			'+ redirect udp 443 to 8443' "Reloaded portredir.service - $description.")" "$1"
}

package_upgrade() {
	local upgrade invocation lines
	upgrade=$(cat /results/upgrade-version)
	replace_mapping 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080' 'redirect tcp,udp 443 to 8443'
	systemctl start portredir.service
	check "portredir.service is active again before the upgrade" \
		unit_is portredir.service ActiveState=active Result=success
	systemd-run --quiet --unit=portredir-test-echo --uid=nobody \
		/usr/bin/systemd-socket-activate --listen=8080 --accept --inetd /bin/cat
	check "an echo server runs as nobody on 8080" wait_until "the echo server" echo_server_listens
	exec 4<>/dev/tcp/127.0.0.1/80
	check "a connection to port 80 reaches the echo server on 8080" echo_through 4 before-the-upgrade
	# Drift that only a re-apply repairs. dpkg writes rules.conf.dpkg-new
	# into /etc/portredir while it unpacks, which portredir.path would
	# answer with a re-apply of its own: stopped, so that only the
	# postinst's reload can repair the table.
	nft delete element inet portredir udp_redirects '{ 443 }'
	systemctl stop portredir.path
	invocation=$(property portredir.service InvocationID)
	lines=$(journal_of portredir.service | wc -l)
	: >"$POLICY_LOG"
	DEBIAN_FRONTEND=noninteractive dpkg -i /results/portredir-upgrade.deb >/results/upgrade.log 2>&1
	check "dpkg -i upgrades the package to $upgrade" dpkg_status_is "install ok installed $upgrade"
	check "the upgrade reloads portredir.service and restarts portredir-watch.service if it runs" \
		policy_log_is 'portredir-watch.service try-restart
portredir.service try-reload-or-restart'
	check "the upgrade did not restart portredir.service" \
		unit_is portredir.service ActiveState=active InvocationID="$invocation"
	check "the upgrade re-applied the mapping" table_is '80 : 8080, 443 : 8443' '443 : 8443'
	check "the re-apply was one reload, with no flush" \
		reloaded_and_reapplied "$(journal_since "$lines" portredir.service)"
	check "the established connection survived the upgrade" echo_through 4 after-the-upgrade
	exec 4>&-
	check "the administrator's mapping survived the upgrade" expect_eq "$RULES" \
		"$(printf '%s\n' 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080' 'redirect tcp,udp 443 to 8443')" \
		"$(cat "$RULES")"
	check "the upgrade left no .dpkg-* file beside it" \
		expect_eq "files in /etc/portredir" rules.conf "$(ls -A /etc/portredir)"

	# The same version again, with a mapping that cannot be applied: the
	# reload fails, the kernel keeps its rules, the package is configured.
	replace_mapping 'unprivileged_port_start 1000' 'redirct tcp 80 to 8080'
	DEBIAN_FRONTEND=noninteractive dpkg -i /results/portredir-upgrade.deb >/results/reinstall.log 2>&1
	check "reinstalling with an invalid mapping succeeds" expect_eq "exit status of dpkg -i" 0 "$?"
	check "reinstalling with an invalid mapping leaves the package configured" \
		dpkg_status_is "install ok installed $upgrade"
	check "the failed reload is a warning" grep -qxF \
		'portredir: warning: re-applying the mapping failed; the kernel keeps the previous rules; see journalctl -u portredir.service' \
		/results/reinstall.log
	check "the failed reload changed nothing" table_is '80 : 8080, 443 : 8443' '443 : 8443'
	check "portredir.service stays active" unit_is portredir.service ActiveState=active InvocationID="$invocation"
	replace_mapping 'unprivileged_port_start 1000' 'redirect tcp 80 to 8080' 'redirect tcp,udp 443 to 8443'
}

package_removal() {
	local mapping
	# portredir-watch.service instead: stopping it leaves the table, so
	# only prerm's own flush can delete it. portredir.service is stopped
	# first (it flushes): the Conflicts= between them would run that stop
	# beside watch's start, and watch would repair the table only later.
	systemctl stop portredir.service
	systemctl start portredir-watch.service
	check "portredir-watch.service runs before the removal" \
		unit_is portredir-watch.service ActiveState=active SubState=running
	check "the table is there before the removal" table_is '80 : 8080, 443 : 8443' '443 : 8443'
	mapping=$(cat "$RULES")
	: >"$POLICY_LOG"
	DEBIAN_FRONTEND=noninteractive dpkg -r portredir >/results/remove.log 2>&1
	check "dpkg -r removes the package and keeps its configuration" \
		dpkg_status_is "deinstall ok config-files $(cat /results/upgrade-version)"
	check "the removal stopped every unit first" policy_log_is 'portredir-watch.service stop
portredir.path stop
portredir-reload.service stop
portredir.service stop'
	check "the removal's flush printed what it undid" expect_eq "change lines of dpkg -r" \
		"$(printf '%s\n' '- unprivileged_port_start 1000' '+ unprivileged_port_start 1024' '- table inet portredir')" \
		"$(grep -E '^[-+~] ' /results/remove.log)"
	check "the removal deleted the table" ruleset_is_empty
	check "the removal restored the sysctl" sysctl_is 1024
	check "port 80 is not redirected any more" port_80_refuses
	check "no unit of portredir is left" \
		unit_is portredir-watch.service LoadState=not-found ActiveState=inactive
	check "the removal kept the administrator's mapping" expect_eq "$RULES" "$mapping" "$(cat "$RULES" 2>&1)"
	systemctl stop portredir-test-echo.service

	DEBIAN_FRONTEND=noninteractive dpkg -P portredir >/results/purge.log 2>&1
	check "dpkg -P purges the package" \
		expect_eq "dpkg-query -W portredir" 1 "$(dpkg-query -W portredir >/dev/null 2>&1; echo $?)"
	check "the purge deleted the mapping and /etc/portredir" \
		expect_eq "/etc/portredir" absent "$( [ -e /etc/portredir ] && ls -A /etc/portredir || echo absent)"
	check "the purge left no link to portredir's units" \
		expect_eq "links in /etc/systemd" "" "$(find /etc/systemd -name 'portredir*' ! -name portredir-boot-test.service)"
}

boot_with_package() {
	boot_with_valid_mapping
	package_upgrade
	package_removal
}

case $MODE in
valid) boot_with_valid_mapping ;;
owners) boot_with_owners ;;
broken) boot_with_broken_mapping ;;
watch) boot_with_watch ;;
package) boot_with_package ;;
*) not_ok "unknown mode '$MODE'" ;;
esac
echo "1..$number" >&3
{
	echo "== systemctl --failed"
	systemctl --failed --no-pager
	echo "== journal of portredir units"
	journalctl -b --no-pager -u 'portredir*'
} >/results/diagnostics 2>&1
exec 3>&-
mv /results/tap.partial /results/tap
