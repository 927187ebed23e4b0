# The test runner's reading of TAP, sourced by tests/run.sh (and by its own
# test, tests/packaging/runner.sh): each suite's results printed as they
# arrive, numbered across suites and named by the suite, and counted.
# Everything a suite writes also goes to $LOG_DIR/SUITE.log.

LOG_DIR=${CHECK_LOG_DIR:-build/check}
passed=0 failed=0 skipped=0 count=0

# result VERDICT SUITE REST: one result line, numbered across all suites.
# REST is what followed the suite's own number ("- name # SKIP why").
result() {
	count=$((count + 1))
	printf '%s %d - %s: %s\n' "$1" "$count" "$2" "$3"
}

# run_suite NAME COMMAND...: runs COMMAND, reads its TAP as it comes and
# adds it to the counts. Lines that are not results are printed only when
# they surround a failure (the diagnostics a test writes before or after
# its "not ok"). A suite that exits non-zero without reporting a failure
# (a crash, a sanitizer abort), or reports no plan or fewer tests than it
# planned, counts as one failure of its own.
run_suite() {
	local name=$1 log=$LOG_DIR/$1.log planned=-1 seen=0 bad=0 status line rest
	local pending=() after_failure=false
	shift
	: >"$log"
	while IFS= read -r line; do
		printf '%s\n' "$line" >>"$log"
		case $line in
		1..*)
			planned=${line#1..}
			planned=${planned%% *}
			;;
		"ok "*|"not ok "*)
			seen=$((seen + 1))
			rest=${line#ok }
			rest=${rest#not ok }
			rest=${rest#* }
			rest=${rest#- }
			case $line in
			*"# SKIP"*|*"# skip"*)
				skipped=$((skipped + 1))
				result ok "$name" "$rest"
				after_failure=false
				;;
			"ok "*)
				passed=$((passed + 1))
				result ok "$name" "$rest"
				after_failure=false
				;;
			*)
				failed=$((failed + 1))
				bad=$((bad + 1))
				result "not ok" "$name" "$rest"
				for rest in "${pending[@]+"${pending[@]}"}"; do
					printf '#   %s\n' "${rest#\# }"
				done
				after_failure=true
				;;
			esac
			pending=()
			;;
		*)
			if $after_failure; then
				printf '#   %s\n' "${line#\# }"
			else
				pending+=("$line")
			fi
			;;
		esac
	done < <("$@" 2>&1; echo "$?" >"$log.status")
	status=$(cat "$log.status" 2>/dev/null || echo 1)
	rm -f "$log.status"
	if [ "$planned" -lt 0 ]; then
		failed=$((failed + 1))
		result "not ok" "$name" "no plan, $seen tests reported (exit status $status); see $log"
	elif [ "$seen" -lt "$planned" ]; then
		failed=$((failed + 1))
		result "not ok" "$name" "only $seen of $planned tests reported (exit status $status); see $log"
	elif [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		failed=$((failed + 1))
		result "not ok" "$name" "exited with status $status without reporting a failure; see $log"
	elif [ "$bad" -gt 0 ]; then
		echo "# $name: $bad failed; its whole output is in $log"
	fi
}

# summary: the last line, "N passed, N failed[, N skipped]"; fails when a
# test did.
summary() {
	local line="$passed passed, $failed failed"
	[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
	echo "$line"
	[ "$failed" -eq 0 ]
}
