#!/bin/bash
# make install puts the binary, the units (with the binary's real path),
# the man pages and the default mapping where the Makefile's variables
# say, never overwrites the administrator's mapping, and make uninstall
# removes all of it but that mapping.
. "$(dirname "$0")/lib.sh"

DESTDIR=$SCRATCH/root
SBINDIR=$(make_variable SBINDIR)
SYSCONFDIR=$(make_variable SYSCONFDIR)
MANDIR=$(make_variable MANDIR)
SYSTEMDUNITDIR=$(make_variable SYSTEMDUNITDIR)
# As the Makefile finds them: templates NAME.in and plain units.
UNITS=$(cd systemd && for unit in *.in *.service *.path *.socket *.timer; do
	[ -e "$unit" ] && echo "${unit%.in}"; done | sort)

run_make() {
	local output
	output=$(make --no-print-directory -s "$@" 2>&1) && return 0
	diag "make $* failed:" "$output"
	return 1
}

# files_are DIR EXPECTED: every file under DIR as "MODE PATH", sorted.
files_are() {
	local actual
	actual=$(cd "$1" && find . -not -type d -printf '%m %P\n' | sort -k2)
	[ "$actual" = "$2" ] && return 0
	diag "files under $1: expected:" "$2" "got:" "$actual"
	return 1
}

expected_files() {
	local unit
	{
		echo "755 ${SBINDIR#/}/portredir"
		for unit in $UNITS; do echo "644 ${SYSTEMDUNITDIR#/}/$unit"; done
		echo "644 ${MANDIR#/}/man8/portredir.8"
		echo "644 ${MANDIR#/}/man5/portredir.conf.5"
		echo "644 ${SYSCONFDIR#/}/portredir/rules.conf"
	} | sort -k2
}

install_puts_every_file_in_place() {
	run_make install DESTDIR="$DESTDIR" && files_are "$DESTDIR" "$(expected_files)"
}

installed_units_name_the_installed_binary() {
	local unit=$DESTDIR$SYSTEMDUNITDIR/portredir.service
	grep -qx "ExecStart=$SBINDIR/portredir apply" "$unit" &&
		grep -qx "ExecReload=$SBINDIR/portredir apply" "$unit" &&
		grep -qx "ExecStop=$SBINDIR/portredir flush" "$unit" &&
		grep -qx "PathChanged=$SYSCONFDIR/portredir" "$DESTDIR$SYSTEMDUNITDIR/portredir.path" &&
		! grep -rn -e "$SCRATCH" -e @SBINDIR@ -e @SYSCONFDIR@ "$DESTDIR$SYSTEMDUNITDIR" >&2
}

install_keeps_an_existing_mapping() {
	local mapping=$DESTDIR$SYSCONFDIR/portredir/rules.conf
	echo 'redirect tcp 80 to 9090' >"$mapping"
	run_make install DESTDIR="$DESTDIR" &&
		[ "$(cat "$mapping")" = 'redirect tcp 80 to 9090' ]
}

uninstall_leaves_only_the_mapping() {
	run_make uninstall DESTDIR="$DESTDIR" &&
		files_are "$DESTDIR" "644 ${SYSCONFDIR#/}/portredir/rules.conf"
}

# Another PREFIX: the units follow the binary (nothing says /usr/sbin).
units_follow_another_prefix() {
	local root=$SCRATCH/prefix
	run_make install DESTDIR="$root" PREFIX=/opt/portredir SYSTEMDUNITDIR=/opt/portredir/units &&
		[ -x "$root/opt/portredir/sbin/portredir" ] &&
		grep -qx "ExecStart=/opt/portredir/sbin/portredir apply" "$root/opt/portredir/units/portredir.service" &&
		run_make uninstall DESTDIR="$root" PREFIX=/opt/portredir SYSTEMDUNITDIR=/opt/portredir/units &&
		files_are "$root" "644 ${SYSCONFDIR#/}/portredir/rules.conf"
	local status=$?
	# Back to the units of the default paths for the tests that follow.
	run_make all
	return $status
}

unit_directory_comes_from_pkg_config() {
	local expected
	expected=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
	[ -n "$expected" ] || expected=$(make_variable PREFIX)/lib/systemd/system
	[ "$(make_variable SYSTEMDUNITDIR)" = "$expected" ]
}

unit_directory_falls_back_without_pkg_config() {
	[ "$(make_variable SYSTEMDUNITDIR PKG_CONFIG=false PREFIX=/opt/x)" = /opt/x/lib/systemd/system ]
}

check "make install puts every file in place" install_puts_every_file_in_place
check "installed units name the installed binary and mapping directory" \
	installed_units_name_the_installed_binary
check "make install keeps an existing mapping" install_keeps_an_existing_mapping
check "make uninstall leaves only the mapping" uninstall_leaves_only_the_mapping
check "units follow another PREFIX" units_follow_another_prefix
check "the unit directory comes from pkg-config systemd" unit_directory_comes_from_pkg_config
check "the unit directory falls back to PREFIX/lib/systemd/system" \
	unit_directory_falls_back_without_pkg_config
finish
