#!/bin/sh
# Installs what portredir needs to build and test, from Debian's packages,
# skipping what is already there, plus any package named as an argument.
# Needs root (apt-get) only when something is missing.
set -e
packages="build-essential pkg-config libnftnl-dev libmnl-dev libcmocka-dev nftables iproute2 \
	socat python3 valgrind util-linux procps time mandoc man-db ansible-core $*"
missing=""
for package in $packages; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $package"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "portredir: these packages are missing:$missing; run as root to install them" >&2
		exit 1
	fi
	echo "Installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
