#!/bin/bash
# The systemd units as installed: systemd-analyze verify finds nothing to
# say about any of them, portredir.service has the hardening the issue
# asks for, and the exposure systemd-analyze security gives it is the one
# docs/sandbox.md and portredir(8) record.
. "$(dirname "$0")/lib.sh"

ROOT=$SCRATCH/root
SYSTEMDUNITDIR=$(make_variable SYSTEMDUNITDIR)
MANDIR=$(make_variable MANDIR)
SERVICE=build/portredir.service

# The units installed into a scratch root, which verify resolves commands,
# dependencies and man pages in: it gets the host's own units, and the
# host's copy of each command the units name without a path (systemctl).
prepare_root() {
	local command path
	make --no-print-directory -s install DESTDIR="$ROOT" >/dev/null 2>&1 || return 1
	cp -an /lib/systemd/system/. "$ROOT$SYSTEMDUNITDIR/" || return 1
	for command in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^/ ][^ ]*\).*/\1/p' build/*.service | sort -u); do
		path=$(type -P "$command") || continue
		install -D "$path" "$ROOT/usr/bin/$command" || return 1
	done
	# Commands named by absolute path that make install does not provide
	# (the shell whose kill reloads portredir-watch.service).
	for path in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\(\/[^ ]*\).*/\1/p' build/*.service | sort -u); do
		[ -e "$ROOT$path" ] || [ ! -x "$path" ] || install -D "$path" "$ROOT$path" || return 1
	done
}

verify_is_clean() {
	local output
	output=$(cd "$ROOT" && MANPATH=$ROOT$MANDIR \
		systemd-analyze verify --root="$ROOT" "$SYSTEMDUNITDIR/$1" 2>&1)
	local status=$?
	[ "$status" -eq 0 ] && [ -z "$output" ] && return 0
	diag "systemd-analyze verify $1 (exit status $status):" "$output"
	return 1
}

# has_lines UNIT LINE...: each LINE is a whole line of UNIT.
has_lines() {
	local unit=$1 line
	shift
	for line in "$@"; do
		grep -qxF -- "$line" "$unit" || { diag "$unit has no line: $line"; return 1; }
	done
}

lacks_key() {
	! grep -q "^$2=" "$1" || { diag "$1 sets $2"; return 1; }
}

exposure() {
	systemd-analyze security --offline=true "$SERVICE" 2>/dev/null |
		sed -n 's/^→ Overall exposure level for portredir.service: \([0-9.]*\) .*/\1/p'
}

# records_exposure FILE PATTERN: FILE states the current score as PATTERN
# (with SCORE in it) says.
records_exposure() {
	local score
	score=$(exposure)
	[ -n "$score" ] || { diag "systemd-analyze security printed no score"; return 1; }
	grep -qF "${2//SCORE/$score}" "$1" && return 0
	diag "$1 does not record the exposure $score as: ${2//SCORE/$score}"
	return 1
}

if ! command -v systemd-analyze >/dev/null; then
	skip "units" "systemd-analyze is not installed"
	finish
	exit 0
fi
make --no-print-directory -s all >/dev/null
if prepare_root; then
	for unit in $(cd build && ls -- *.service *.path *.socket *.timer 2>/dev/null); do
		check "systemd-analyze verify $unit is clean" verify_is_clean "$unit"
	done
else
	check "make install into a scratch root" false
fi
check "portredir.service keeps only CAP_NET_ADMIN and gains nothing" has_lines "$SERVICE" \
	CapabilityBoundingSet=CAP_NET_ADMIN NoNewPrivileges=yes
check "portredir.service sees the file system read-only but for the sysctl" has_lines "$SERVICE" \
	ProtectSystem=strict ProtectKernelTunables=yes \
	ReadWritePaths=/proc/sys/net/ipv4/ip_unprivileged_port_start
check "portredir.service has netlink only, and a system-call filter" has_lines "$SERVICE" \
	"RestrictAddressFamilies=AF_NETLINK" SystemCallFilter=@system-service
for unit in "$SERVICE" build/portredir-watch.service; do
	check "$(basename "$unit") runs as the user portredir with its runtime directory (the lock root shares)" \
		has_lines "$unit" User=portredir RuntimeDirectory=portredir RuntimeDirectoryMode=0700
done
check "portredir.service manages the host's network, not a private one" \
	lacks_key "$SERVICE" PrivateNetwork
check "docs/sandbox.md records the exposure systemd-analyze security gives" \
	records_exposure docs/sandbox.md 'exposure level of SCORE'
check "portredir(8) records the exposure systemd-analyze security gives" \
	records_exposure man/portredir.8 'rates its exposure SCORE'
finish
