#!/bin/bash
# The command line as ip, nft and systemctl users expect it, as any user:
# help for each command (help COMMAND and COMMAND --help alike), the
# nearest command suggested for a typo, --version and version alike; and
# the examples of the README that need no privilege are what portredir
# prints.
. "$(dirname "$0")/lib.sh"

PORTREDIR=${PORTREDIR:-$PWD/build/portredir}
case $PORTREDIR in /*) ;; *) PORTREDIR=$PWD/$PORTREDIR ;; esac
VERSION=$(make_variable VERSION)
DEFAULT_PATH=$(make_variable SYSCONFDIR)/portredir/rules.conf

# runs ARGUMENTS...: portredir's stdout, stderr and exit status in OUT,
# ERR and STATUS.
runs() {
	OUT=$("$PORTREDIR" "$@" 2>"$SCRATCH/err")
	STATUS=$?
	ERR=$(cat "$SCRATCH/err")
}

# same WHAT EXPECTED ACTUAL
same() {
	[ "$2" = "$3" ] && return 0
	diag "$1: expected:" "$2" "$1: got:" "$3"
	return 1
}

# prints STATUS STDOUT STDERR ARGUMENTS...: exactly that.
prints() {
	local status=$1 out=$2 err=$3
	shift 3
	runs "$@"
	same "exit status of portredir $*" "$status" "$STATUS" &&
		same "stdout of portredir $*" "$out" "$OUT" &&
		same "stderr of portredir $*" "$err" "$ERR"
}

APPLY_HELP="Usage: portredir [-f PATH] [--json] [-q | -v] apply [--dry-run]

Make the kernel match the mapping in one atomic netlink transaction, then set
the sysctl if the mapping declares it, and print the changes made.

Options:
  -f, --file PATH     mapping file, or directory of *.conf drop-ins (default
                      $DEFAULT_PATH)
      --json          print the result as one JSON document, also on failure
                      (watch: one per event)
  -q, --quiet         print no warnings and no change lines (errors still
                      print)
  -v, --verbose       say what each step did, on stderr
      --dry-run       change nothing: exactly like diff
  -h, --help          print this help

Exit status:
  0  done, whether or not anything changed (--dry-run: as diff)
  1  with --dry-run, the kernel differs from the mapping
  2  error

See portredir(8)."

help_command_prints_the_synopsis_options_and_exit_status() {
	prints 0 "$APPLY_HELP" "" help apply
}

command_help_is_help_command() {
	prints 0 "$APPLY_HELP" "" apply --help &&
		prints 0 "$APPLY_HELP" "" -h apply --dry-run
}

every_command_has_its_help() {
	local command
	for command in $("$PORTREDIR" --json help | "$PYTHON" -c '
import json, sys
for command in json.load(sys.stdin)["commands"]:
    print(command["name"])'); do
		runs help "$command"
		same "exit status of help $command" 0 "$STATUS" || return 1
		grep -q "^Usage: portredir \[-f PATH\] \[--json\] \[-q | -v\] $command" <<<"$OUT" &&
			grep -q '^Exit status:$' <<<"$OUT" && grep -q '^Options:$' <<<"$OUT" || {
			diag "help $command:" "$OUT"
			return 1
		}
		same "$command --help" "$OUT" "$("$PORTREDIR" "$command" --help)" || return 1
	done
}

general_help_lists_the_commands() {
	runs help
	same "exit status" 0 "$STATUS" || return 1
	same "help and --help" "$OUT" "$("$PORTREDIR" --help)" || return 1
	same "the list of commands" "  check    parse and validate the mapping; print it normalized (no privileges
           needed)
  diff     show what apply would change; exit 1 when the kernel differs from
           the mapping
  apply    make the kernel match the mapping in one atomic transaction
  show     print the kernel's current state as a mapping file
  flush    delete the managed table and restore the sysctl portredir changed
  watch    apply, then re-apply whenever the mapping, the table or the sysctl
           changes
  help     print the help of a command, or this list
  version  print the version" "$(sed -n '/^Commands:$/,/^$/p' <<<"$OUT" | sed '1d;$d')"
}

help_lines_fit_80_columns() {
	local command long
	for command in "" check diff apply show flush watch help version; do
		# shellcheck disable=SC2086
		long=$("$PORTREDIR" help $command | awk 'length > 79')
		same "lines over 79 columns in help $command" "" "$long" || return 1
	done
}

help_json_is_the_same_data() {
	runs --json help apply
	same "exit status" 0 "$STATUS" || return 1
	"$PYTHON" -c '
import json, sys
document = json.loads(sys.argv[1])
assert document["command"] == "apply", document
assert document["synopsis"] == "portredir [-f PATH] [--json] [-q | -v] apply [--dry-run]", document
assert [o["names"] for o in document["options"]] == ["-f, --file", "--json", "-q, --quiet", "-v, --verbose", "--dry-run"], document
assert document["options"][0]["argument"] == "PATH", document
assert document["exit_status"] == [
    {"status": 0, "meaning": "done, whether or not anything changed (--dry-run: as diff)"},
    {"status": 1, "meaning": "with --dry-run, the kernel differs from the mapping"},
    {"status": 2, "meaning": "error"}], document
' "$OUT"
}

help_of_an_unknown_command_suggests_the_nearest() {
	prints 2 "" "portredir: error: unknown command 'aply'; did you mean 'apply'?" help aply &&
		prints 2 "" "portredir: error: unknown command 'frobnicate'; see 'portredir help' for the commands" \
			help frobnicate
}

an_unknown_command_suggests_the_nearest() {
	prints 2 "" "portredir: error: unknown command 'aply'; did you mean 'apply'?" aply &&
		prints 2 "" "portredir: error: unknown command 'wacth'; did you mean 'watch'?" -f x.conf wacth &&
		prints 2 "" "portredir: error: unknown command 'frobnicate'; see 'portredir help' for the commands" frobnicate
}

version_and_dash_dash_version_agree() {
	prints 0 "portredir $VERSION" "" version &&
		prints 0 "portredir $VERSION" "" --version &&
		prints 0 "portredir $VERSION" "" -V &&
		prints 0 '{"version":"'"$VERSION"'"}' "" --json version &&
		prints 0 '{"version":"'"$VERSION"'"}' "" --version --json
}

# The README's example of check's errors, for a file whose lines 2 and 3
# are the ones it shows.
readme_check_example_is_what_check_prints() {
	local example
	example=$(awk '/^\$ portredir -f rules.conf check$/ { on = 1; next } on && /^```$/ { exit } on' README.md)
	[ -n "$example" ] || { diag "README.md has no example of portredir -f rules.conf check"; return 1; }
	mkdir -p "$SCRATCH/readme"
	printf '%s\n' '# web' 'redirect tcp 80abc to 8080' 'redirect tpc 443 to 8443' >"$SCRATCH/readme/rules.conf"
	chmod 0644 "$SCRATCH/readme/rules.conf"
	(cd "$SCRATCH/readme" && "$PORTREDIR" -f rules.conf check >/dev/null 2>"$SCRATCH/readme/err")
	same "the README's check example" "$example" "$(cat "$SCRATCH/readme/err")"
}

# The README's error document, for a file whose only error is the one it
# names.
readme_json_error_example_is_what_check_prints() {
	local example
	example=$(awk '/^```json$/ { on = 1; next } on && /^```$/ { exit } on' README.md)
	mkdir -p "$SCRATCH/json"
	printf '%s\n' 'redirect tcp 80 to 8080' 'redirect tcp 443 to 8443' 'redirect tpc 443 to 8443' \
		>"$SCRATCH/json/rules.conf"
	chmod 0644 "$SCRATCH/json/rules.conf"
	(cd "$SCRATCH/json" && "$PORTREDIR" --json -f rules.conf check >"$SCRATCH/json/out" 2>/dev/null)
	"$PYTHON" -c '
import json, sys
example, actual = json.loads(sys.argv[1]), json.loads(open(sys.argv[2]).read())
if example != actual:
    sys.exit("# README: %s\n# got: %s" % (json.dumps(example), json.dumps(actual)))
' "$example" "$SCRATCH/json/out"
}

make --no-print-directory -s "$PORTREDIR" >/dev/null 2>&1 || make --no-print-directory -s >/dev/null
PYTHON=/usr/bin/python3
check "help COMMAND prints its synopsis, options and exit status" help_command_prints_the_synopsis_options_and_exit_status
check "COMMAND --help is help COMMAND" command_help_is_help_command
check "every command has its help" every_command_has_its_help
check "help lists the commands, as --help does" general_help_lists_the_commands
check "help fits 80 columns" help_lines_fit_80_columns
check "help --json is the same data" help_json_is_the_same_data
check "help of an unknown command suggests the nearest" help_of_an_unknown_command_suggests_the_nearest
check "an unknown command suggests the nearest" an_unknown_command_suggests_the_nearest
check "version and --version agree" version_and_dash_dash_version_agree
check "the README's example of check is what check prints" readme_check_example_is_what_check_prints
check "the README's error document is what check --json prints" readme_json_error_example_is_what_check_prints
finish
