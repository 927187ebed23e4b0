#!/bin/bash
# make check-boot: portredir's units in a really booted Debian system.
# A minimal root (debootstrap --variant=minbase, cached under
# build/boot/rootfs-cache/ and keyed on the suite, mirror, architecture and
# package list) gets `make install DESTDIR=` and `systemctl enable
# portredir.service`, and boots with systemd-nspawn --private-network (its
# own ruleset and sysctls; the host's are never touched), twice: with a
# valid mapping, then with a broken one. Inside, tests/boot/inside.sh runs
# after multi-user.target, writes its TAP to a bound directory and powers
# the system off. Prints TAP-like lines and "N passed, N failed" (",
# N skipped"); exit status 1 on any failure. Skips only where nspawn
# cannot run.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
BOOT_DIR=$PWD/$BUILD/boot
MAKE=${MAKE:-make}
# Where make install puts the binary and the units (the Makefile passes them).
SBINDIR=${SBINDIR:-/usr/local/sbin}
SYSTEMDUNITDIR=${SYSTEMDUNITDIR:-/lib/systemd/system}
# Each boot is bounded; a healthy one takes a few seconds.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-180}
# Besides minbase: an init and D-Bus (systemctl), portredir's runtime
# libraries, nft with netbase (protocol names) for the checks, and socat
# for the owners' boot (a web service, its clients).
PACKAGES=systemd,systemd-sysv,dbus,libnftnl11,libmnl0,nftables,netbase,socat

passed=0 failed=0 skipped=0 number=0
started=$SECONDS

report() {
	local verdict=$1
	shift
	number=$((number + 1))
	echo "$verdict $number - $*"
	case $verdict in
	ok) passed=$((passed + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
}

diag() {
	printf '%s\n' "$@" | sed 's/^/# /'
}

finish() {
	local summary="$passed passed, $failed failed"
	[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
	diag "check-boot took $((SECONDS - started)) s"
	echo "$summary"
	[ "$failed" -eq 0 ]
	exit
}

skip_all() {
	number=$((number + 1))
	skipped=$((skipped + 1))
	echo "ok $number - boot test # SKIP $*"
	finish
}

# fail_all WHAT LOG: a step everything else depends on failed.
fail_all() {
	report "not ok" "$1"
	[ -z "${2:-}" ] || diag "$(tail -n 30 "$2")"
	finish
}

# Mounts a killed debootstrap may have left below DIR (it mounts /proc
# and /sys in the target), unmounted before DIR is removed.
remove_tree() {
	local dir=$1 mountpoint
	[ -e "$dir" ] || return 0
	awk -v d="$dir/" 'index($5 "/", d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r mountpoint; do umount -l "$mountpoint"; done
	rm -rf --one-file-system "$dir"
}

# How nspawn runs on these machines: not registered with machined, in the
# caller's unit, a unified cgroup hierarchy inside, and never on the
# host's network (the container's ruleset and sysctls are its own).
NSPAWN=(env SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --quiet --register=no --keep-unit
	--private-network)

# Where nspawn cannot run (no root, in an unprivileged container, a kernel
# without namespaces), the whole test is skipped, saying why. The probe
# runs /bin/true in a container made of the host's /usr, read-only.
nspawn_can_run() {
	local probe=$BOOT_DIR/probe output
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root for systemd-nspawn (run make check-boot as root)"
		return 1
	fi
	if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
		echo "systemd-nspawn or debootstrap is not installed (tests/install-deps.sh debootstrap systemd-container)"
		return 1
	fi
	mkdir -p /run/systemd/nspawn || return 1
	remove_tree "$probe"
	mkdir -p "$probe/usr" "$probe/etc" "$probe/proc" "$probe/sys" "$probe/dev" "$probe/run" "$probe/tmp"
	for dir in bin sbin lib lib64; do ln -s "usr/$dir" "$probe/$dir"; done
	cp /etc/os-release "$probe/etc/"
	if ! output=$(timeout 60 "${NSPAWN[@]}" -D "$probe" --bind-ro=/usr /usr/bin/true </dev/null 2>&1); then
		echo "systemd-nspawn cannot run here: $(printf '%s' "$output" | tr '\n' ' ')"
		remove_tree "$probe"
		return 1
	fi
	remove_tree "$probe"
}

# The first mirror in apt's sources that serves SUITE (main archive, not
# -security or -updates), in one-line or deb822 format.
apt_mirror() {
	local suite=$1 file
	for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$file" ] || continue
		awk -v s="$suite" '$1 == "deb" { sub(/^deb +(\[[^]]*\] +)?/, ""); if ($2 == s) { print $1; exit } }' "$file"
	done
	for file in /etc/apt/sources.list.d/*.sources; do
		[ -f "$file" ] || continue
		awk -v s="$suite" '
			function flush() { if (deb && uris != "" && has) { split(uris, u, " "); print u[1]; exit } deb = 0; uris = ""; has = 0 }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { deb = ($0 ~ /[ \t]deb([ \t]|$)/) }
			/^URIs:/ { uris = $0; sub(/^URIs:[ \t]*/, "", uris) }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) has = 1 }
			END { flush() }' "$file"
	done
	echo http://deb.debian.org/debian
}

# Debootstraps the minimal root once per key; later runs reuse it.
# Prints the cache directory.
cached_root() {
	local suite mirror arch key cache began
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$suite" ] || { echo "no VERSION_CODENAME in /etc/os-release" >&2; return 1; }
	mirror=$(apt_mirror "$suite" | head -n 1)
	arch=$(dpkg --print-architecture)
	key=$(printf '%s\n' "$suite" "$mirror" "$arch" minbase "$PACKAGES" | sha256sum | cut -c1-16)
	cache=$BOOT_DIR/rootfs-cache/$suite-$arch-$key
	if [ ! -d "$cache" ]; then
		mkdir -p "$BOOT_DIR/rootfs-cache"
		for old in "$BOOT_DIR"/rootfs-cache/*; do remove_tree "$old"; done
		diag "debootstrap $suite from $mirror (once; cached in ${cache#$PWD/})" >&2
		began=$SECONDS
		debootstrap --variant=minbase --arch="$arch" --include="$PACKAGES" \
			"$suite" "$cache.partial" "$mirror" >"$BOOT_DIR/debootstrap.log" 2>&1 || return 1
		# The downloaded packages, installed now, are not needed again.
		rm -f "$cache.partial/var/cache/apt/archives/"*.deb
		mv "$cache.partial" "$cache"
		diag "debootstrap took $((SECONDS - began)) s" >&2
	fi
	echo "$cache"
}

# The unit that runs inside.sh once the system is up, then powers off
# whatever the checks found.
BOOT_TEST_UNIT='[Unit]
Description=portredir boot test: check what the boot did, then power off
After=multi-user.target
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/bin/bash /results/inside.sh

[Install]
WantedBy=multi-user.target'

# prepare_installed CACHE: the cached root with portredir installed as an
# administrator would, the service enabled, and the test unit.
prepare_installed() {
	local root=$BOOT_DIR/installed
	remove_tree "$root"
	cp -a "$1" "$root" || return 1
	"$MAKE" --no-print-directory -s install DESTDIR="$root" SANITIZE=0 >"$BOOT_DIR/install.log" 2>&1 ||
		return 1
	printf '%s\n' "$BOOT_TEST_UNIT" >"$root/etc/systemd/system/portredir-boot-test.service"
	systemctl --root="$root" enable portredir.service portredir-boot-test.service \
		>>"$BOOT_DIR/install.log" 2>&1 || return 1
	echo portredir-boot-test >"$root/etc/hostname"
}

# installed_unit_runs PATH: the installed portredir.service names the
# binary where make install put it, outside DESTDIR.
installed_unit_runs() {
	local unit=$BOOT_DIR/installed$SYSTEMDUNITDIR/portredir.service
	[ -x "$BOOT_DIR/installed$1" ] &&
		grep -qx "ExecStart=$1 apply" "$unit" &&
		grep -qx "ExecReload=$1 apply" "$unit" &&
		grep -qx "ExecStop=$1 flush" "$unit" && return 0
	diag "$unit does not run $1:" "$(grep '^Exec' "$unit" 2>&1)"
	return 1
}

# boot MODE MAPPING...: boots a fresh copy of the installed root with
# MAPPING as rules.conf, and reports what inside.sh found.
boot() {
	local mode=$1 root=$BOOT_DIR/root-$1 results=$BOOT_DIR/results-$1 status line verdict began
	shift
	remove_tree "$root"
	rm -rf "$results"
	mkdir -p "$results"
	cp -a "$BOOT_DIR/installed" "$root"
	printf '%s\n' "$@" >"$root/etc/portredir/rules.conf"
	echo "$mode" >"$results/mode"
	cp tests/boot/inside.sh "$results/"
	began=$SECONDS
	timeout --kill-after=10 "$BOOT_TIMEOUT" \
		"${NSPAWN[@]}" --directory="$root" --machine="portredir-boot-$mode" --boot \
		--bind="$results:/results" </dev/null >"$BOOT_DIR/console-$mode.log" 2>&1
	status=$?
	diag "boot with the $mode mapping: $((SECONDS - began)) s, systemd-nspawn exit status $status"
	if [ ! -f "$results/tap" ]; then
		report "not ok" "$mode mapping: the system booted and ran its checks (console in ${BOOT_DIR#$PWD/}/console-$mode.log)"
		diag "$(tail -n 30 "$BOOT_DIR/console-$mode.log")"
		return
	fi
	while IFS= read -r line; do
		case $line in
		"ok "*) verdict=ok ;;
		"not ok "*) verdict="not ok" ;;
		"#"*) echo "$line"; continue ;;
		*) continue ;;
		esac
		report "$verdict" "$mode mapping: ${line#* - }"
	done <"$results/tap"
	if grep -q '^not ok' "$results/tap"; then
		diag "what the system logged:"
		diag "$(cat "$results/diagnostics")"
	fi
	remove_tree "$root"
}

mkdir -p "$BOOT_DIR"
reason=$(nspawn_can_run) || skip_all "$reason"
cache=$(cached_root) || fail_all "debootstrap a minimal root" "$BOOT_DIR/debootstrap.log"
report ok "minimal root ready (${cache#$PWD/})"
prepare_installed "$cache" || fail_all "make install DESTDIR= and systemctl enable into the root" "$BOOT_DIR/install.log"
report ok "make install DESTDIR= and systemctl enable into the root"
if installed_unit_runs "$SBINDIR/portredir"; then
	report ok "the installed unit runs $SBINDIR/portredir"
else
	report "not ok" "the installed unit runs $SBINDIR/portredir"
fi

boot valid \
	'# check-boot: a valid mapping that declares the sysctl' \
	'unprivileged_port_start 1000' \
	'redirect tcp 80 to 8080' \
	'redirect tcp,udp 443 to 8443'
boot broken \
	'unprivileged_port_start 1000' \
	'redirect tcp 80 to 8080' \
	'redirct tcp 443 to 8443' \
	'redirect tcp 22 to 22' \
	'redirect udp 53 to 53a'
# The alternative to the oneshot and its path unit: watch as a service.
if systemctl --root="$BOOT_DIR/installed" disable portredir.service portredir.path >>"$BOOT_DIR/install.log" 2>&1 &&
	systemctl --root="$BOOT_DIR/installed" enable portredir-watch.service >>"$BOOT_DIR/install.log" 2>&1; then
	boot watch \
		'unprivileged_port_start 1000' \
		'redirect tcp 80 to 8080' \
		'redirect tcp,udp 443 to 8443'
else
	report "not ok" "enable portredir-watch.service instead of portredir.service"
	diag "$(tail -n 10 "$BOOT_DIR/install.log")"
fi
# Owners: a web service as a dynamic user, and a socket-activated one,
# followed by watch (still the enabled unit).
OWNER_UNITS=(
	'portredir-test-web.service' '[Unit]
Description=portredir boot test: a web service as a dynamic user, on 8080 (IPv4)

[Service]
DynamicUser=yes
ExecStart=/usr/bin/socat TCP4-LISTEN:8080,fork,reuseaddr "SYSTEM:echo web"

[Install]
WantedBy=multi-user.target'
	'activated.socket' '[Unit]
Description=portredir boot test: a socket the service manager makes, on 8081

[Socket]
ListenStream=0.0.0.0:8081
Accept=yes

[Install]
WantedBy=sockets.target'
	'activated@.service' '[Unit]
Description=portredir boot test: one socket-activated connection

[Service]
DynamicUser=yes
ExecStart=/bin/echo activated
StandardInput=socket
StandardOutput=socket'
)
install_owner_units() {
	local root=$BOOT_DIR/installed i
	for ((i = 0; i < ${#OWNER_UNITS[@]}; i += 2)); do
		printf '%s\n' "${OWNER_UNITS[i + 1]}" >"$root/etc/systemd/system/${OWNER_UNITS[i]}" || return 1
	done
	systemctl --root="$root" enable portredir-test-web.service activated.socket >>"$BOOT_DIR/install.log" 2>&1
}
if install_owner_units; then
	boot owners \
		'redirect tcp 80 to 8080 for portredir-test-web.service' \
		'redirect tcp 81 to 8081 for system-activated.slice' \
		'redirect tcp 82 to 8081 for cgroup /init.scope'
else
	report "not ok" "install the owners' test units"
	diag "$(tail -n 10 "$BOOT_DIR/install.log")"
fi
remove_tree "$BOOT_DIR/installed"
finish
