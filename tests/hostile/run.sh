#!/bin/bash
# The hostile-input matrix: every malformed mapping of tests/malformed, and
# inputs made here that no one writes by hand (binary junk, NUL bytes, a
# 1 MiB line, 200,000 lines, 30-digit numbers, every directive cut at every
# word, duplicates across drop-ins, a symbolic link loop, a FIFO, devices,
# unreadable files, an empty directory, a file over the size limit, files
# another user could change, paths through directories and links another
# user could change, names holding escape sequences). For each, in a namespace holding a managed
# table and another owner's table: `apply` exits 2, its first line on
# stderr is the one written below, no line on stderr holds a control
# character (the excerpts under the diagnostics escape them), and
# `nft -a list ruleset` and the sysctl are byte for byte what they were.
# TAP, one test per input.
. "$(dirname "$0")/../integration/lib.sh"

# Generated inputs live here; "@/" in an expected line stands for it and
# its slash (a lone "@" is the text's own, as in a unit template's name).
HOSTILE=$TEST_DIR/hostile
# tests/malformed, copied so that root owns it whoever owns the checkout,
# and read from CORPUS under the same relative names as in the repository.
CORPUS=$TEST_DIR/corpus

declare -A CASE_PATH CASE_EXPECTED CASE_USER

# hostile NAME PATH EXPECTED [USER]: a test named NAME (its function name)
# applying PATH, as root or as USER with only CAP_NET_ADMIN. EXPECTED is
# the first line on stderr, or when it has several, the whole of stderr.
hostile() {
	CASE_PATH[$1]=$2
	CASE_EXPECTED[$1]=${3//@\//$HOSTILE/}
	CASE_USER[$1]=${4:-}
	eval "test_$1() { expect_apply_refused $1; }"
}

# input NAME CONTENT: a generated mapping file HOSTILE/NAME, root's, 0644
# (nothing without root, when every test is skipped).
input() {
	[ -d "$HOSTILE" ] || return 0
	printf '%b' "$2" >"$HOSTILE/$1"
	chmod 0644 "$HOSTILE/$1"
}

# The namespace's state portredir could change: the whole ruleset with
# handles (an object deleted and recreated differs), and the sysctl.
save_state() {
	{
		in_ns "$1" nft -a list ruleset
		in_ns "$1" sysctl net.ipv4.ip_unprivileged_port_start
	} >"$2"
}

expect_apply_refused() {
	local name=$1 ns first
	local path=${CASE_PATH[$name]} expected=${CASE_EXPECTED[$name]} user=${CASE_USER[$name]}
	netns_make ns host
	in_ns "$ns" "$PORTREDIR" -q -f "$RULES_DIR" apply
	in_ns "$ns" nft add table ip filter
	in_ns "$ns" nft add chain ip filter input '{ type filter hook input priority 0; policy accept; }'
	in_ns "$ns" nft add rule ip filter input tcp dport 22 counter accept
	save_state "$ns" "$TEST_DIR/before"
	if [ -n "$user" ]; then
		run_captured in_ns "$ns" setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
			--inh-caps=-all,+net_admin --ambient-caps=+net_admin "$PORTREDIR" -f "$path" apply
	else
		run_captured in_ns_from "$CORPUS" "$ns" "$PORTREDIR" -f "$path" apply
	fi
	first=$(head -n 1 <<<"$RUN_ERR")
	expect_eq "exit status of apply -f $path" 2 "$RUN_STATUS"
	if [[ $expected == *$'\n'* ]]; then
		expect_eq "stderr" "$expected" "$RUN_ERR"
	else
		expect_eq "first line on stderr" "$expected" "$first"
	fi
	expect_eq "stdout" "" "$RUN_OUT"
	# The excerpts under the diagnostics show the input's bytes escaped:
	# no control character of it reaches the terminal.
	expect_eq "lines on stderr with a control character" "" \
		"$(LC_ALL=C grep -n '[[:cntrl:]]' <<<"$RUN_ERR" | cut -c1-200 || true)"
	save_state "$ns" "$TEST_DIR/after"
	expect_same_file "ruleset and sysctl" "$TEST_DIR/before" "$TEST_DIR/after"
}

# in_ns_from DIRECTORY NS COMMAND...: COMMAND in NS, run from DIRECTORY.
in_ns_from() {
	local directory=$1
	shift
	(cd "$directory" && in_ns "$@")
}

if [ "$(id -u)" -eq 0 ]; then
	mkdir -p "$HOSTILE" "$CORPUS/tests"
	cp -R tests/malformed "$CORPUS/tests/"
	chown -R 0:0 "$CORPUS" && chmod -R go-w "$CORPUS"
fi

# Every malformed mapping of the corpus, with the whole stderr it expects
# from check, where apply adds that nothing was changed.
for expected in tests/malformed/*.expected; do
	input=${expected%.expected}
	name=malformed_$(basename "$input" | tr -c 'a-zA-Z0-9_\n' '_')
	hostile "$name" "$input" "$(sed '$s/$/; nothing was changed/' "$expected")"
done

# Binary junk: an ELF file starts with 0x7f, then "ELF"; random bytes
# (the first is "y"); NUL bytes (4096 of them: one more would first make
# the line too long).
[ -d "$HOSTILE" ] && cp "$PORTREDIR" "$HOSTILE/binary.conf" && chmod 0644 "$HOSTILE/binary.conf"
hostile binary_executable "$HOSTILE/binary.conf" \
	'@/binary.conf:1:1: error: control character 0x7f; separate words with spaces or tabs'
[ -d "$HOSTILE" ] && "$PYTHON" -c '
import random, sys
r = random.Random(20261122)
sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(65536)))' >"$HOSTILE/random.conf" &&
	chmod 0644 "$HOSTILE/random.conf"
hostile random_bytes "$HOSTILE/random.conf" \
	'@/random.conf:1:2: error: non-ASCII byte 0xc4; only ASCII is allowed outside comments'
[ -d "$HOSTILE" ] && head -c 4096 /dev/zero >"$HOSTILE/zeros.conf" && chmod 0644 "$HOSTILE/zeros.conf"
hostile nul_bytes_only "$HOSTILE/zeros.conf" '@/zeros.conf:1:1: error: NUL byte; a mapping file must be plain text'

# Sizes: one line of 1 MiB, in a word and in a comment; 200,000 lines.
if [ -d "$HOSTILE" ]; then
	{ printf 'redirect tcp 80 to '; head -c 1048576 /dev/zero | tr '\0' 9; printf '\n'; } >"$HOSTILE/long-line.conf"
	{ printf '# '; head -c 1048576 /dev/zero | tr '\0' x; printf '\nredirect tcp 80 to 8080\n'; } \
		>"$HOSTILE/long-comment.conf"
	# 200,000 redirects of tcp ports 1 to 65535 and around again: the
	# 65,536th line repeats the first.
	"$PYTHON" -c '
for i in range(200000):
    port = i % 65535 + 1
    print("redirect tcp %d to %d" % (port, port % 65535 + 1))' >"$HOSTILE/200000-lines.conf"
	# 199,999 comments and blank lines, then a line cut short.
	"$PYTHON" -c '
for i in range(199999):
    print("# comment %d" % i if i % 2 else "")
print("redirect tcp 80 to")' >"$HOSTILE/200000th-line.conf"
	truncate -s 65M "$HOSTILE/65-mib.conf"
	chmod 0644 "$HOSTILE"/*.conf
fi
hostile line_of_one_mib "$HOSTILE/long-line.conf" '@/long-line.conf:1:4097: error: line is longer than 4096 bytes; shorten it'
hostile comment_of_one_mib "$HOSTILE/long-comment.conf" \
	'@/long-comment.conf:1:4097: error: line is longer than 4096 bytes; shorten it'
hostile lines_200000 "$HOSTILE/200000-lines.conf" \
	'@/200000-lines.conf:65536:1: error: duplicate redirect for tcp port 1; first defined at @/200000-lines.conf:1:1'
hostile error_on_line_200000 "$HOSTILE/200000th-line.conf" \
	"@/200000th-line.conf:200000:19: error: missing target port after 'to'; expected a number from 1 to 65535"
hostile file_over_64_mib "$HOSTILE/65-mib.conf" '@/65-mib.conf: error: file is larger than the limit of 64 MiB'

# Numbers of 30 digits, in every place a number goes.
input digits-target.conf 'redirect tcp 80 to 123456789012345678901234567890\n'
input digits-value.conf 'unprivileged_port_start 000000000000000000000000001024\n'
input digits-hex.conf 'redirect tcp 0xffffffffffffffffffffffffffff to 8080\n'
hostile thirty_digit_target "$HOSTILE/digits-target.conf" \
	"@/digits-target.conf:1:20: error: invalid target port '123456789012345678901234567890': out of range; expected a number from 1 to 65535"
hostile thirty_digit_value "$HOSTILE/digits-value.conf" \
	"@/digits-value.conf:1:25: error: invalid unprivileged_port_start value '000000000000000000000000001024': leading zeros are not allowed; write 1024"
hostile thirty_digit_hexadecimal "$HOSTILE/digits-hex.conf" \
	"@/digits-hex.conf:1:14: error: invalid port '0xffffffffffffffffffffffffffff': only decimal numbers are allowed; expected a number from 1 to 65535"

# Every directive cut after each of its words, at the end of a line and
# at the end of the file (no newline).
cut_directive() {
	local name=$1 text=$2 expected=$3
	input "$name.conf" "$text\n"
	input "$name-eof.conf" "$text"
	hostile "cut_${name//-/_}" "$HOSTILE/$name.conf" "@/$name.conf:1:$expected"
	hostile "cut_${name//-/_}_at_end_of_file" "$HOSTILE/$name-eof.conf" "@/$name-eof.conf:1:$expected"
}
cut_directive redirect 'redirect' "9: error: missing protocol after 'redirect'; expected 'tcp', 'udp' or 'tcp,udp'"
cut_directive redirect-tcp 'redirect tcp' '13: error: missing port after the protocol; expected a number from 1 to 65535'
cut_directive redirect-tcp-80 'redirect tcp 80' "16: error: missing 'to' after the port"
cut_directive redirect-tcp-80-to 'redirect tcp 80 to' \
	"19: error: missing target port after 'to'; expected a number from 1 to 65535"
cut_directive redirect-tcp-udp 'redirect tcp,udp' \
	'17: error: missing port after the protocol; expected a number from 1 to 65535'
cut_directive redirect-tcp-udp-443 'redirect tcp,udp 443' "21: error: missing 'to' after the port"
cut_directive redirect-tcp-udp-443-to 'redirect tcp,udp 443 to' \
	"24: error: missing target port after 'to'; expected a number from 1 to 65535"
cut_directive start 'unprivileged_port_start' \
	"24: error: missing value after 'unprivileged_port_start'; expected a number from 0 to 65535"
# ... and inside a word.
input cut-in-list.conf 'redirect tcp, 80 to 8080\n'
input cut-in-to.conf 'redirect tcp 80 t'
input cut-in-directive.conf 'redir'
hostile cut_inside_the_protocol_list "$HOSTILE/cut-in-list.conf" \
	"@/cut-in-list.conf:1:13: error: trailing comma in protocol list 'tcp,'; remove it"
hostile cut_inside_to "$HOSTILE/cut-in-to.conf" \
	"@/cut-in-to.conf:1:17: error: unknown word 't' after the port; did you mean 'to'?"
hostile cut_inside_the_directive "$HOSTILE/cut-in-directive.conf" \
	"@/cut-in-directive.conf:1:1: error: unknown directive 'redir'; expected 'redirect' or 'unprivileged_port_start'"
input nul-in-directive.conf 'redi\0rect tcp 80 to 8080\n'
hostile nul_byte_inside_a_word "$HOSTILE/nul-in-directive.conf" \
	'@/nul-in-directive.conf:1:5: error: NUL byte; a mapping file must be plain text'

# Drop-ins: the same ports in three files; a directory without *.conf.
if [ -d "$HOSTILE" ]; then
	mkdir -p "$HOSTILE/duplicates.d" "$HOSTILE/empty.d"
	input duplicates.d/10-web.conf 'redirect tcp,udp 443 to 8443\n'
	input duplicates.d/20-quic.conf '# QUIC\nredirect udp 443 to 9443\n'
	input duplicates.d/30-all.conf 'redirect tcp 443 to 8443\n'
fi
hostile duplicates_across_three_drop_ins "$HOSTILE/duplicates.d" \
	'@/duplicates.d/20-quic.conf:2:1: error: duplicate redirect for udp port 443; first defined at @/duplicates.d/10-web.conf:1:1'
hostile empty_directory "$HOSTILE/empty.d" \
	"@/empty.d: error: directory has no *.conf files; put the mapping in a file whose name ends in '.conf'"

# Files that are not files: a symbolic link loop, a dangling link, a FIFO
# (which must not hang the open), a device, a socket, a directory.
if [ -d "$HOSTILE" ]; then
	ln -s loop.conf "$HOSTILE/loop.conf"
	ln -s nowhere.conf "$HOSTILE/dangling.conf"
	mkfifo -m 0644 "$HOSTILE/fifo.conf"
	"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$HOSTILE/socket.conf"
	mkdir -p "$HOSTILE/special.d/10-dir.conf"
	ln -s 20-loop.conf "$HOSTILE/special.d/20-loop.conf"
	mkfifo -m 0644 "$HOSTILE/special.d/30-fifo.conf"
	input special.d/40-good.conf 'redirect tcp 80 to 8080\n'
fi
hostile symbolic_link_loop "$HOSTILE/loop.conf" '@/loop.conf: error: cannot open: Too many levels of symbolic links'
hostile dangling_symbolic_link "$HOSTILE/dangling.conf" '@/dangling.conf: error: cannot open: No such file or directory'
hostile missing_file "$HOSTILE/missing.conf" '@/missing.conf: error: cannot open: No such file or directory'
hostile fifo "$HOSTILE/fifo.conf" \
	'@/fifo.conf: error: not a regular file but a FIFO; give a mapping file or a directory of *.conf files'
hostile unix_socket "$HOSTILE/socket.conf" \
	'@/socket.conf: error: cannot open: No such device or address'
hostile character_device /dev/zero \
	'/dev/zero: error: not a regular file but a character device; give a mapping file or a directory of *.conf files'
hostile drop_ins_that_are_a_directory_a_loop_and_a_fifo "$HOSTILE/special.d" \
	'@/special.d/10-dir.conf: error: not a regular file but a directory; only regular files are read'

# Unreadable: root reads any file, so these are applied by a user given
# only CAP_NET_ADMIN (as portredir.service runs it).
if [ -d "$HOSTILE" ]; then
	input unreadable.conf 'redirect tcp 80 to 8080\n'
	chmod 0000 "$HOSTILE/unreadable.conf"
	mkdir -p "$HOSTILE/unreadable.d"
	input unreadable.d/10-web.conf 'redirect tcp 80 to 8080\n'
	input unreadable.d/20-secret.conf 'redirect tcp 443 to 8443\n'
	chmod 0000 "$HOSTILE/unreadable.d/20-secret.conf"
	mkdir -p "$HOSTILE/closed.d"
	input closed.d/10-web.conf 'redirect tcp 80 to 8080\n'
	chmod 0300 "$HOSTILE/closed.d"
fi
hostile unreadable_file "$HOSTILE/unreadable.conf" '@/unreadable.conf: error: cannot open: Permission denied' "$LISTENER_USER"
hostile unreadable_drop_in "$HOSTILE/unreadable.d" \
	'@/unreadable.d/20-secret.conf: error: cannot open: Permission denied' "$LISTENER_USER"
hostile unlistable_directory "$HOSTILE/closed.d" '@/closed.d: error: cannot open: Permission denied' "$LISTENER_USER"

# Files another user could change, refused as root (portredir.conf(5),
# OWNERSHIP).
if [ -d "$HOSTILE" ]; then
	input group-writable.conf 'redirect tcp 80 to 8080\n'
	chmod 0664 "$HOSTILE/group-writable.conf"
	input nobodys.conf 'redirect tcp 80 to 8080\n'
	chown "$LISTENER_USER" "$HOSTILE/nobodys.conf"
	mkdir -p "$HOSTILE/open.d"
	input open.d/10-web.conf 'redirect tcp 80 to 8080\n'
	chmod 1777 "$HOSTILE/open.d"
	mkdir -p "$HOSTILE/shared.d"
	input shared.d/10-web.conf 'redirect tcp 80 to 8080\n'
	input shared.d/20-user.conf 'redirect tcp 443 to 8443\n'
	chown "$LISTENER_USER" "$HOSTILE/shared.d/20-user.conf"
fi
hostile group_writable_file "$HOSTILE/group-writable.conf" \
	"@/group-writable.conf: error: is writable by group or others (mode 0664); run 'chmod go-w @/group-writable.conf'"
hostile file_of_another_user "$HOSTILE/nobodys.conf" \
	"@/nobodys.conf: error: is owned by uid 65534, not root; run 'chown root @/nobodys.conf'"
hostile drop_in_directory_writable_by_all "$HOSTILE/open.d" \
	"@/open.d: error: is writable by group or others (mode 1777); run 'chmod go-w @/open.d'"
hostile drop_in_of_another_user "$HOSTILE/shared.d" \
	"@/shared.d/20-user.conf: error: is owned by uid 65534, not root; run 'chown root @/shared.d/20-user.conf'"

# Paths another user could change on the way (StrictModes, path_trust.h):
# a directory others may write or another user owns, links of another
# user's, and a root's link leading into such a directory.
if [ -d "$HOSTILE" ]; then
	mkdir -p "$HOSTILE/open-dir" "$HOSTILE/users" "$HOSTILE/users/rules.d" "$HOSTILE/sticky" "$HOSTILE/links.d"
	input open-dir/rules.conf 'redirect tcp 80 to 8080\n'
	chmod 0777 "$HOSTILE/open-dir"
	input users/rules.conf 'redirect tcp 80 to 8080\n'
	input users/rules.d/10-web.conf 'redirect tcp 80 to 8080\n'
	chown "$LISTENER_USER" "$HOSTILE/users"
	ln -s users/rules.conf "$HOSTILE/roots-link.conf"
	input real.conf 'redirect tcp 80 to 8080\n'
	ln -s real.conf "$HOSTILE/nobodys-link.conf"
	chown -h "$LISTENER_USER" "$HOSTILE/nobodys-link.conf"
	mkdir -p "$HOSTILE/via"
	ln -s .. "$HOSTILE/via/link"
	chown -h "$LISTENER_USER" "$HOSTILE/via/link"
	input links.d/10-web.conf 'redirect tcp 80 to 8080\n'
	ln -s ../real.conf "$HOSTILE/links.d/20-user.conf"
	chown -h "$LISTENER_USER" "$HOSTILE/links.d/20-user.conf"
	# Like /tmp: open to all, with the sticky bit; a file planted in it.
	chmod 1777 "$HOSTILE/sticky"
	input sticky/planted.conf 'redirect tcp 80 to 8080\n'
	chown "$LISTENER_USER" "$HOSTILE/sticky/planted.conf"
fi
hostile file_in_a_directory_others_may_write "$HOSTILE/open-dir/rules.conf" \
	"@/open-dir/rules.conf: error: directory @/open-dir on its path is writable by group or others (mode 0777); run 'chmod go-w @/open-dir'"
hostile file_in_a_directory_of_another_user "$HOSTILE/users/rules.conf" \
	"@/users/rules.conf: error: directory @/users on its path is owned by uid 65534, not root; run 'chown root @/users'"
hostile drop_ins_in_a_directory_of_another_user "$HOSTILE/users/rules.d" \
	"@/users/rules.d: error: directory @/users on its path is owned by uid 65534, not root; run 'chown root @/users'"
hostile roots_link_into_a_directory_of_another_user "$HOSTILE/roots-link.conf" \
	"@/roots-link.conf: error: directory @/users on its path is owned by uid 65534, not root; run 'chown root @/users'"
hostile link_of_another_user "$HOSTILE/nobodys-link.conf" \
	"@/nobodys-link.conf: error: is a symbolic link owned by uid 65534, not root; replace it with a link root owns, or name its target"
hostile link_of_another_user_on_the_way "$HOSTILE/via/link/real.conf" \
	"@/via/link/real.conf: error: symbolic link @/via/link on its path is owned by uid 65534, not root; replace it with a link root owns, or name its target"
hostile drop_in_that_is_a_link_of_another_user "$HOSTILE/links.d" \
	"@/links.d/20-user.conf: error: is a symbolic link owned by uid 65534, not root; replace it with a link root owns, or name its target"
hostile file_planted_in_a_sticky_directory "$HOSTILE/sticky/planted.conf" \
	"@/sticky/planted.conf: error: is owned by uid 65534, not root; run 'chown root @/sticky/planted.conf'"

# Names that hold terminal escape sequences: shown escaped, never run.
if [ -d "$HOSTILE" ]; then
	mkdir -p "$HOSTILE/escape.d" "$HOSTILE/"$'\e]0;owned\a'
	input escape.d/$'\e[31m\e[2J'red.conf 'redirct tcp 80 to 8080\n'
	input $'\e]0;owned\a'/rules.conf 'redirect tcp 80 to 80800\n'
fi
hostile drop_in_named_with_an_escape_sequence "$HOSTILE/escape.d" \
	"@/escape.d/\\x1b[31m\\x1b[2Jred.conf:1:1: error: unknown directive 'redirct'; did you mean 'redirect'?"
hostile directory_named_with_an_escape_sequence "$HOSTILE/"$'\e]0;owned\a'/rules.conf \
	"@/\\x1b]0;owned\\x07/rules.conf:1:20: error: invalid target port '80800': out of range; expected a number from 1 to 65535"

# Scopes, ranges and names, at their limits.
LONG_WORD=$(printf 'a%.0s' $(seq 1 4000))
input iif-4000.conf "redirect tcp 80 to 8080 iif $LONG_WORD\n"
input on-4000.conf "redirect tcp 80 to 8080 on $LONG_WORD\n"
input service-4000.conf "redirect tcp $LONG_WORD to 8080\n"
input range-past-the-end.conf 'redirect tcp 1-65535 to 2-65536\n'
input range-of-every-port-to-itself.conf 'redirect tcp,udp 1-65535 to 1-65535\n'
input every-clause-twice.conf 'redirect tcp 80 to 8080 on 198.18.0.1 ipv4 for a.service iif eth0 ipv4 for b.service\n'
hostile interface_name_of_4000_bytes "$HOSTILE/iif-4000.conf" \
	"@/iif-4000.conf:1:29: error: interface name '$(printf 'a%.0s' $(seq 1 64))...' is longer than 15 characters, the kernel's limit"
hostile address_of_4000_bytes "$HOSTILE/on-4000.conf" \
	"@/on-4000.conf:1:28: error: invalid address '$(printf 'a%.0s' $(seq 1 64))...' after 'on'; expected an IPv4 or IPv6 address, as 198.51.100.7 or 2001:db8::7"
hostile service_name_of_4000_bytes "$HOSTILE/service-4000.conf" \
	"@/service-4000.conf:1:14: error: unknown service name '$(printf 'a%.0s' $(seq 1 64))...' for tcp; write the port as a number, or use a name from /etc/services"
hostile range_past_the_last_port "$HOSTILE/range-past-the-end.conf" \
	"@/range-past-the-end.conf:1:27: error: invalid target port '65536': out of range; expected a number from 1 to 65535"
hostile range_of_every_port_to_itself "$HOSTILE/range-of-every-port-to-itself.conf" \
	"@/range-of-every-port-to-itself.conf:1:29: error: target range 1-65535 is the same as the port range; a redirect to itself does nothing, remove the line"
hostile every_clause_twice "$HOSTILE/every-clause-twice.conf" \
	"@/every-clause-twice.conf:1:58: error: 'iif' after 'on' at column 25; a redirect takes 'on' or 'iif', not both: write one line for each"

run_tests
