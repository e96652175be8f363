#!/usr/bin/env bash
# Sums up what a run printed with WEBGPU_HOST_TRACE=1 (docs/host.md): how many of each call
# reached the runtime, and the queue's story: each submission and wait with its time, and how
# long the runtime's queue sat idle between a wait that resolved and the next submission (the
# CPU's turn, with the GPU idle unless other work was queued).
#
#   WEBGPU_HOST_TRACE=1 webgpu-virt run app.wasm ... 2> trace.txt
#   bash compose/benches/host-trace.sh trace.txt
set -euo pipefail
[ $# -eq 1 ] && [ -r "$1" ] || { echo "usage: $0 TRACE-FILE (stderr of a run with WEBGPU_HOST_TRACE=1)" >&2; exit 2; }
awk '
  $1 != "T" { next }
  {
    t = $2; $1 = ""; $2 = ""; call = substr($0, 3)
    split(call, word, " "); kind = word[1]
    if (call ~ /^work-done|^map-async/) kind = word[1] " " word[2]
    count[kind]++
  }
  kind == "submit" { submitted_at = t; line = sprintf("%10d  %s", t, call)
    if (idle_from != "") line = line sprintf("   (queue idle %d us since the last wait resolved)", t - idle_from)
    print line; idle_from = ""; next }
  kind == "submitted" { printf "%10d    submitted after %d us\n", t, t - submitted_at; next }
  kind ~ /asked$/ { asked[kind] = t; printf "%10d  %s\n", t, call; next }
  kind ~ /resolved$/ { k = kind; sub(/resolved$/, "asked", k)
    printf "%10d  %s after %d us\n", t, call, t - asked[k]; idle_from = t; next }
  END {
    print ""
    split("create-command-encoder begin-compute-pass dispatch finish submit work-done_asked map-async_asked create-bind-group create-buffer", order, " ")
    for (i = 1; i in order; i++) { k = order[i]; gsub(/_/, " ", k); printf "%-24s %d\n", k, count[k] + 0 }
  }
' "$1"
