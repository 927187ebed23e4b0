#!/bin/bash
# make check-boot: portredir's units in a really booted Debian system.
# A minimal root (debootstrap --variant=minbase, cached under
# build/boot/rootfs-cache/ and keyed on the suite, mirror, architecture and
# package list) gets `make install DESTDIR=` and `systemctl enable
# portredir.service`, and boots with systemd-nspawn --private-network (its
# own ruleset and sysctls; the host's are never touched): with a valid
# mapping, with a broken one, and with portredir-watch.service instead.
# Then the Debian package ($DEB, from make deb) is installed into another
# copy with dpkg -i and apt-get install -f, enabled as README.Debian says,
# and booted: the valid mapping's checks against the package's files, then
# an upgrade with the service active, removal and purge. Inside,
# tests/boot/inside.sh runs after multi-user.target, writes its TAP to a
# bound directory and powers the system off. Prints TAP-like lines and "N passed, N failed" (",
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
# The package to install (make check-boot passes the one make deb built).
DEB=${DEB:-}
# Each boot is bounded; a healthy one takes a few seconds.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-180}
# Besides minbase: an init and D-Bus (systemctl), portredir's runtime
# libraries, nss-systemd (names of dynamic users, as Debian installs it
# with systemd), nft with netbase (protocol names) for the checks, and
# socat for the owners' boot (a web service, its clients).
PACKAGES=systemd,systemd-sysv,dbus,libnss-systemd,libnftnl11,libmnl0,nftables,netbase,socat

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
# whatever the checks found. multi-user.target only wants portredir's
# units and is not ordered after them: on a loaded machine it is reached
# while portredir.service is still activating, so the test waits for them.
BOOT_TEST_UNIT='[Unit]
Description=portredir boot test: check what the boot did, then power off
After=multi-user.target portredir.service portredir-watch.service
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

# installed_unit_runs PATH [ROOT UNITDIR]: the portredir.service installed
# in ROOT (make install's) names the binary at PATH, outside ROOT.
installed_unit_runs() {
	local root=${2:-$BOOT_DIR/installed}
	local unit=$root${3:-$SYSTEMDUNITDIR}/portredir.service
	[ -x "$root$1" ] &&
		grep -qx "ExecStart=$1 apply" "$unit" &&
		grep -qx "ExecReload=$1 apply" "$unit" &&
		grep -qx "ExecStop=$1 flush" "$unit" && return 0
	diag "$unit does not run $1:" "$(grep '^Exec' "$unit" 2>&1)"
	return 1
}

# boot MODE MAPPING...: boots a fresh copy of the installed root
# ($BOOT_SOURCE: make install's, or the package's) with MAPPING as
# rules.conf, and reports what inside.sh found. $BOOT_FILES go to
# /results too.
BOOT_SOURCE=$BOOT_DIR/installed
BOOT_FILES=()
boot() {
	local mode=$1 root=$BOOT_DIR/root-$1 results=$BOOT_DIR/results-$1 status line verdict began
	local label="$1 mapping"
	[ "$mode" != package ] || label=package
	shift
	remove_tree "$root"
	rm -rf "$results"
	mkdir -p "$results"
	cp -a "$BOOT_SOURCE" "$root"
	printf '%s\n' "$@" >"$root/etc/portredir/rules.conf"
	echo "$mode" >"$results/mode"
	cp tests/boot/inside.sh "${BOOT_FILES[@]}" "$results/"
	began=$SECONDS
	timeout --kill-after=10 "$BOOT_TIMEOUT" \
		"${NSPAWN[@]}" --directory="$root" --machine="portredir-boot-$mode" --boot \
		--bind="$results:/results" </dev/null >"$BOOT_DIR/console-$mode.log" 2>&1
	status=$?
	diag "boot with the $mode mapping: $((SECONDS - began)) s, systemd-nspawn exit status $status"
	if [ ! -f "$results/tap" ]; then
		report "not ok" "$label: the system booted and ran its checks (console in ${BOOT_DIR#$PWD/}/console-$mode.log)"
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
		report "$verdict" "$label: ${line#* - }"
	done <"$results/tap"
	if grep -q '^not ok' "$results/tap"; then
		diag "what the system logged:"
		diag "$(cat "$results/diagnostics")"
	fi
	remove_tree "$root"
}

# The package's boot: where the package puts things, and what its
# maintainer scripts ask of systemd (a policy-rc.d that records and
# allows every request, as deb-systemd-invoke consults it).
PACKAGE_UNIT_DIR=/lib/systemd/system
POLICY_RC_D='#!/bin/sh
# check-boot: records what deb-systemd-invoke asks to do, and allows it.
echo "$*" >>/run/policy-rc.d.log
exit 0'

# in_root ROOT COMMAND...: COMMAND in ROOT, not booted (no systemd runs
# there: maintainer scripts start and stop nothing), without network.
in_root() {
	local root=$1
	shift
	"${NSPAWN[@]}" --directory="$root" --bind-ro="$BOOT_DIR/debs:/debs" "$@" </dev/null
}

# package_query ROOT FORMAT: dpkg-query about portredir in ROOT.
package_query() {
	dpkg-query --admindir="$1/var/lib/dpkg" -W -f="$2" portredir 2>&1
}

# prepare_package CACHE: the cached root with the package installed by
# dpkg -i, then apt-get install -f (the dependencies are in the root
# already, and there is no network), in $BOOT_DIR/package.
prepare_package() {
	local root=$BOOT_DIR/package
	remove_tree "$root"
	rm -rf "$BOOT_DIR/debs"
	mkdir -p "$BOOT_DIR/debs"
	cp "$DEB" "$BOOT_DIR/debs/" || return 1
	cp -a "$1" "$root" || return 1
	in_root "$root" /bin/sh -c "export DEBIAN_FRONTEND=noninteractive
		dpkg -i '/debs/${DEB##*/}' && apt-get install -f -y -q" >"$BOOT_DIR/package-install.log" 2>&1
}

# expect_same WHAT EXPECTED ACTUAL
expect_same() {
	[ "$2" = "$3" ] && return 0
	diag "$1: expected:" "$2" "got:" "$3"
	return 1
}

# package_files_are ROOT: the package's files, but for its documentation,
# are the binary, every unit of systemd/, the man pages and the mapping.
package_files_are() {
	local expected actual unit
	expected=$(
		echo /etc/portredir/rules.conf
		for unit in $(cd systemd && for unit in *.in *.service *.path *.socket *.timer; do
			[ -e "$unit" ] && echo "${unit%.in}"; done); do
			echo "$PACKAGE_UNIT_DIR/$unit"
		done
		echo /usr/sbin/portredir
		echo /usr/share/man/man5/portredir.conf.5.gz
		echo /usr/share/man/man8/portredir.8.gz
	)
	actual=$(dpkg-query --admindir="$1/var/lib/dpkg" -L portredir |
		while read -r path; do [ -d "$1$path" ] || echo "$path"; done | grep -v '^/usr/share/doc/')
	expect_same "the package's files" "$(sort <<<"$expected")" "$(sort <<<"$actual")"
}

# nothing_enabled ROOT: the package enabled no unit, and linked none.
nothing_enabled() {
	local links
	expect_same "systemctl is-enabled" "$(printf '%s\n' disabled disabled disabled static)" \
		"$(systemctl --root="$1" is-enabled portredir.service portredir.path \
			portredir-watch.service portredir-reload.service 2>&1)" || return 1
	links=$(find "$1/etc/systemd" -name 'portredir*')
	expect_same "links to portredir's units in /etc/systemd" "" "$links"
}

# upgrade_package DEB DIR: the same package as a newer version (its files
# unchanged, VERSION+boot1) as DIR/portredir-upgrade.deb; prints the version.
upgrade_package() {
	local version repack=$BOOT_DIR/repack
	version=$(dpkg-deb -f "$1" Version)+boot1
	rm -rf "$repack"
	dpkg-deb -R "$1" "$repack" &&
		sed -i "s/^Version: .*/Version: $version/" "$repack/DEBIAN/control" &&
		dpkg-deb -b "$repack" "$2/portredir-upgrade.deb" >/dev/null || return 1
	rm -rf "$repack"
	echo "$version"
}

# check WHAT COMMAND...: one host-side test of the package's root.
check() {
	local what=$1
	shift
	if "$@"; then report ok "$what"; else report "not ok" "$what"; fi
}

skip_one() {
	number=$((number + 1))
	skipped=$((skipped + 1))
	echo "ok $number - $1 # SKIP $2"
}

# The package: installed, inspected, enabled as README.Debian says, booted.
check_package() {
	local root=$BOOT_DIR/package version
	if [ -z "$DEB" ]; then
		skip_one "the Debian package's boot" "no package given (make check-boot builds one with make deb)"
		return
	fi
	if [ ! -f "$DEB" ]; then
		report "not ok" "the package $DEB exists (make deb)"
		return
	fi
	if ! prepare_package "$cache"; then
		report "not ok" "dpkg -i ${DEB##*/} and apt-get install -f into the root"
		diag "$(tail -n 30 "$BOOT_DIR/package-install.log")"
		return
	fi
	report ok "dpkg -i ${DEB##*/} and apt-get install -f into the root"
	version=$(dpkg-deb -f "$DEB" Version)
	check "the package is installed, version $version" expect_same "the package's status" \
		"install ok installed $version" "$(package_query "$root" '${Status} ${Version}')"
	check "the package installs the binary, the units in $PACKAGE_UNIT_DIR and the man pages" \
		package_files_are "$root"
	check "/etc/portredir/rules.conf is the package's conffile" expect_same "the package's conffiles" \
		/etc/portredir/rules.conf "$(package_query "$root" '${Conffiles}' | awk 'NF { print $1 }')"
	check "the package enables no unit" nothing_enabled "$root"
	check "the package's unit runs /usr/sbin/portredir" \
		installed_unit_runs /usr/sbin/portredir "$root" "$PACKAGE_UNIT_DIR"

	printf '%s\n' "$BOOT_TEST_UNIT" >"$root/etc/systemd/system/portredir-boot-test.service"
	printf '%s\n' "$POLICY_RC_D" >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	echo portredir-boot-test >"$root/etc/hostname"
	if ! systemctl --root="$root" enable portredir.service portredir-boot-test.service \
		>>"$BOOT_DIR/package-install.log" 2>&1; then
		report "not ok" "systemctl enable portredir.service in the package's root"
		diag "$(tail -n 10 "$BOOT_DIR/package-install.log")"
		return
	fi
	if ! version=$(upgrade_package "$DEB" "$BOOT_DIR/debs"); then
		report "not ok" "repack ${DEB##*/} as a newer version"
		return
	fi
	echo "$version" >"$BOOT_DIR/debs/upgrade-version"
	BOOT_SOURCE=$root
	BOOT_FILES=("$BOOT_DIR/debs/portredir-upgrade.deb" "$BOOT_DIR/debs/upgrade-version")
	boot package \
		'# check-boot: a valid mapping that declares the sysctl' \
		'unprivileged_port_start 1000' \
		'redirect tcp 80 to 8080' \
		'redirect tcp,udp 443 to 8443'
	remove_tree "$root"
	rm -rf "$BOOT_DIR/debs"
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
check_package
finish
