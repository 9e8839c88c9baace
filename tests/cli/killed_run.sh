#!/bin/bash
# A run ended from outside keeps what it produced (README "Exit status"):
#   killed_run.sh SIGNAL NESTBED WORKDIR EXPECTED_STDOUT_REGEX|"" -- RUN-ARGS...
# starts `NESTBED run --stats WORKDIR/stats.json --trace WORKDIR/run.trace
# RUN-ARGS...` with stdout and stderr redirected to files, waits until it
# has created the stats file and used KILLED_RUN_CPU_TENTHS tenths of a
# second of CPU (default 5; the guest is running by then), sends
# SIGNAL (TERM or INT), and checks: the process ended by that signal (a
# shell's 128 + N), the guest's output is in the file, stderr is one line
# saying so, --stats says stop_reason "signal", and every trace reader
# accepts the trace. With KILLED_RUN_TWICE=1 the signal is sent twice,
# 0.1 s apart. With KILLED_RUN_NEEDS_KVM=1 it skips (status 77)
# where /dev/kvm is not usable. No timing is asserted: the wait only decides when to
# send the signal.
set -u
if [[ ${KILLED_RUN_NEEDS_KVM:-0} == 1 && ! -w /dev/kvm ]]; then echo "skipped: /dev/kvm is not usable here"; exit 77; fi
signal=$1 nestbed=$2 dir=$3 expected=$4
shift 4
[[ ${1:-} == -- ]] && shift
mkdir -p "$dir"
rm -f "$dir"/{out.txt,err.txt,stats.json,run.trace}

fail=0
report() { echo "FAIL: $*"; fail=1; }

"$nestbed" run --stats "$dir/stats.json" --trace "$dir/run.trace" "$@" >"$dir/out.txt" 2>"$dir/err.txt" &
pid=$!
ticks_per_second=$(getconf CLK_TCK)
# The --stats file is created just after nestbed installs its SIGINT/SIGTERM
# handlers: before it exists the signal's default action would end the run
# (a sanitizer build can spend more than a tenth of a second of CPU starting).
for ((i = 0; i < 600; ++i)); do  # at most 60 s of waiting
  cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || break  # user + system (KVM's guest time)
  [[ -e $dir/stats.json ]] && (( cpu * 10 >= ticks_per_second * ${KILLED_RUN_CPU_TENTHS:-5} )) && break
  sleep 0.1
done
kill "-$signal" "$pid"
# KILLED_RUN_TWICE=1: the same signal again a moment later, as GNU timeout
# sends it (to the command, then to its process group): still a clean stop.
if [[ ${KILLED_RUN_TWICE:-0} == 1 ]]; then sleep 0.1; kill "-$signal" "$pid" 2>/dev/null; fi
wait "$pid"
status=$?
number=$(kill -l "$signal")

[[ $status == $((128 + number)) ]] || report "exit status $status, expected $((128 + number)) (killed by SIG$signal)"
[[ -z $expected ]] || grep -Eq -- "$expected" "$dir/out.txt" || report "the guest's output is not in the file: $expected"
# The last line says how the run ended (a kvm host may warn about its tracepoints before it).
tail -n 1 "$dir/err.txt" | grep -q "^nestbed: stopped by SIG$signal;" || report "stderr's last line does not say the run was stopped by SIG$signal"
grep -q '"stop_reason": "signal"' "$dir/stats.json" || report "--stats does not say stop_reason \"signal\""
grep -q "\"signal\": $number," "$dir/stats.json" || report "--stats does not give signal $number"
grep -q "\"exit_status\": $((128 + number))," "$dir/stats.json" || report "--stats does not give exit_status $((128 + number))"
for reader in summary dump; do
  "$nestbed" trace $reader "$dir/run.trace" >/dev/null 2>"$dir/reader.err" || report "trace $reader rejects the trace: $(cat "$dir/reader.err")"
done
"$nestbed" trace export --csv "$dir/run.csv" --perfetto "$dir/run.json" "$dir/run.trace" 2>"$dir/reader.err" ||
  report "trace export rejects the trace: $(cat "$dir/reader.err")"

patterns=$(dirname "$0")/../sanitizer/report_patterns.txt
if grep -v -e '^#' -e '^$' "$patterns" | grep -Eq -f - "$dir/err.txt" "$dir/reader.err"; then report "sanitizer report on stderr"; fi

echo "exit status: $status"
echo "--- stdout"; cat "$dir/out.txt"
echo "--- stderr"; cat "$dir/err.txt"
echo "--- stats"; cat "$dir/stats.json"
exit $fail
