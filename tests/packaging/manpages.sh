#!/bin/bash
# The man pages pass mandoc's linter at its strictest level and groff's
# warnings, and man renders them without a complaint; portredir(8) names
# every unit make install installs, and documents every command.
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

# section_of PAGE SECTION: the text of SECTION of PAGE, as man renders it.
section_of() {
	LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$1" 2>/dev/null | col -b |
		awk -v section="$2" '/^[A-Z]/ { on = ($0 == section); next } on'
}

files_names_every_unit() {
	local files unit missing=""
	files=$(section_of man/portredir.8 FILES)
	for unit in $(cd systemd && ls -- *.in | sed 's/\.in$//'); do
		grep -qw -- "$unit" <<<"$files" || missing="$missing $unit"
	done
	[ -z "$missing" ] && return 0
	diag "portredir(8) FILES does not name:$missing"
	return 1
}

commands_are_documented() {
	local commands command missing=""
	commands=$(section_of man/portredir.8 COMMANDS)
	for command in $(build/portredir --json help | /usr/bin/python3 -c '
import json, sys
for command in json.load(sys.stdin)["commands"]:
    print(command["name"])'); do
		grep -Eq "^ {7}$command( |$)" <<<"$commands" || missing="$missing $command"
	done
	[ -z "$missing" ] && return 0
	diag "portredir(8) COMMANDS does not describe:$missing"
	return 1
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
if command -v man >/dev/null && command -v col >/dev/null; then
	make --no-print-directory -s build/portredir >/dev/null
	check "portredir(8) FILES names every unit" files_names_every_unit
	check "portredir(8) COMMANDS describes every command" commands_are_documented
else
	skip "portredir(8) FILES names every unit" "man is not installed"
	skip "portredir(8) COMMANDS describes every command" "man is not installed"
fi
finish
