#!/bin/bash
# quiet_run.sh OUT CMD...: runs CMD in its own session while pausing (SIGSTOP) every other
# busy process on the machine; resumes them all (SIGCONT) when CMD ends.
out=$1; shift
setsid bash -c "$*" > "$out" 2>&1 &
cmdpid=$!
sleep 0.5
mysid=$(ps -o sid= -p $cmdpid | tr -d ' ')
stopped=()
resume() { for p in "${stopped[@]}"; do kill -CONT "$p" 2>/dev/null; done; }
trap resume EXIT
while kill -0 $cmdpid 2>/dev/null; do
  for p in $(ps -eo pid=,sid=,pcpu=,comm= | awk -v s="$mysid" -v me=$$ '$2!=s && $1!=me && $3>5 && $4!~/^(ps|awk|bash|sleep|quiet_run.sh|process_api)$/ {print $1}'); do
    if ! printf '%s\n' "${stopped[@]}" | grep -qx "$p"; then kill -STOP "$p" 2>/dev/null && stopped+=("$p"); fi
  done
  sleep 2
done
echo "paused ${#stopped[@]} processes" >> "$out"
