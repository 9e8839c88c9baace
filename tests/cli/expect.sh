#!/bin/bash
# Runs a command and checks how it ended, for the CLI tests (tests/cli.cmake):
#   expect.sh --status N [--stderr REGEX]... [--stdout REGEX]... [--one-line] [--stdout-to FILE] -- COMMAND [ARGS...]
# Passes when the exit status is exactly N (so never a crash by a signal),
# every --stderr/--stdout extended regex matches some line of that stream,
# with --one-line, stderr is exactly one line, and stderr has no sanitizer
# report (tests/sanitizer/report_patterns.txt), whatever the status.
# --stdout-to sends the command's stdout to FILE (e.g. /dev/full) instead.
set -u
status="" one_line=0 stdout_to=""
stderr_patterns=() stdout_patterns=()
while [[ $# -gt 0 && $1 != -- ]]; do
  case $1 in
    --status) status=$2; shift 2 ;;
    --stderr) stderr_patterns+=("$2"); shift 2 ;;
    --stdout) stdout_patterns+=("$2"); shift 2 ;;
    --one-line) one_line=1; shift ;;
    --stdout-to) stdout_to=$2; shift 2 ;;
    *) echo "expect.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
shift  # --
[[ -n $status && $# -gt 0 ]] || { echo "expect.sh: need --status N -- COMMAND" >&2; exit 2; }

patterns=$(dirname "$0")/../sanitizer/report_patterns.txt
[[ -r $patterns ]] || { echo "expect.sh: cannot read $patterns" >&2; exit 2; }

out=$(mktemp) err=$(mktemp) reports=$(mktemp)
trap 'rm -f "$out" "$err" "$reports"' EXIT
"$@" >"${stdout_to:-$out}" 2>"$err"
actual=$?

fail=0
report() { echo "FAIL: $*"; fail=1; }
[[ $actual == "$status" ]] || report "exit status $actual, expected $status"
for p in "${stderr_patterns[@]+"${stderr_patterns[@]}"}"; do
  grep -Eq -- "$p" "$err" || report "stderr does not match: $p"
done
for p in "${stdout_patterns[@]+"${stdout_patterns[@]}"}"; do
  grep -Eq -- "$p" "$out" || report "stdout does not match: $p"
done
if [[ $one_line == 1 && $(wc -l <"$err") != 1 ]]; then report "stderr is not exactly one line"; fi
grep -v -e '^#' -e '^$' "$patterns" >"$reports"
if grep -Eq -f "$reports" "$err"; then report "sanitizer report on stderr"; fi

echo "command: $*"
echo "exit status: $actual"
echo "--- stdout"; cat "$out"
echo "--- stderr"; cat "$err"
exit $fail
