#!/bin/bash
# debian/ agrees with the Makefile: the package's version is the program's
# (portredir --version and the package say the same), and its maintainer
# scripts are POSIX sh, as lintian wants them.
. "$(dirname "$0")/lib.sh"

version_is_the_makefile_s() {
	local package program
	package=$(dpkg-parsechangelog -S Version)
	program=$(make_variable VERSION)
	# A Debian revision or a local suffix may follow the upstream version.
	case $package in
	"$program" | "$program"[-+~]*) return 0 ;;
	esac
	diag "debian/changelog says $package, the Makefile's VERSION is $program"
	return 1
}

scripts_are_posix_sh() {
	local script output
	for script in debian/portredir.preinst debian/portredir.postinst debian/portredir.prerm \
		debian/portredir.postrm; do
		[ -e "$script" ] || continue
		output=$(checkbashisms "$script" 2>&1) || { diag "$output"; return 1; }
	done
}

if command -v dpkg-parsechangelog >/dev/null; then
	check "debian/changelog's version is the Makefile's VERSION" version_is_the_makefile_s
else
	skip "debian/changelog's version is the Makefile's VERSION" "dpkg-dev is not installed"
fi
if command -v checkbashisms >/dev/null; then
	check "the maintainer scripts are POSIX sh (checkbashisms)" scripts_are_posix_sh
else
	skip "the maintainer scripts are POSIX sh (checkbashisms)" "devscripts is not installed"
fi
finish
