#!/bin/bash
# The man pages pass mandoc's linter at its strictest level and groff's
# warnings, and man renders them without a complaint.
. "$(dirname "$0")/lib.sh"

renders_cleanly() {
	local output errors
	errors=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null)
	output=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$1" 2>/dev/null)
	if [ -n "$errors" ]; then
		diag "man -l $1:" "$errors"
		return 1
	fi
	grep -q '^NAME' <<<"$output" || { diag "man -l $1 printed no NAME section"; return 1; }
}

for page in man/*.[1-8]; do
	name=$(basename "$page")
	if command -v mandoc >/dev/null; then
		check "$name passes mandoc -Tlint -Wstyle" silent mandoc -Tlint -Wstyle "$page"
	else
		skip "$name passes mandoc -Tlint -Wstyle" "mandoc is not installed"
	fi
	if command -v groff >/dev/null; then
		check "$name passes groff -ww" silent groff -ww -z -man -Tutf8 "$page"
	else
		skip "$name passes groff -ww" "groff is not installed"
	fi
	if command -v man >/dev/null; then
		check "$name renders with man -l" renders_cleanly "$page"
	else
		skip "$name renders with man -l" "man is not installed"
	fi
done
finish
