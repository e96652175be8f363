#!/usr/bin/env bash
# The inference-like job (`bench_infer`, 50 steps) direct, through the plain virt and under every
# new GPU-time limit set generously, in alternating rounds, then the medians and their ratios to
# direct: the whole run, its first step and the steps after it (docs/gpu-time.md). With a second
# `webgpu-virt` build (OLD), its plain virt and limits run in each round too, for an A/B of a
# change. Set up as for gpu-time.sh (a GPU machine: docs/benchmarks.md).
#
#   bash compose/benches/gpu-infer-ab.sh [ROUNDS [OLD-WEBGPU-VIRT]]
#
# ARGS overrides the job's size (default: --hidden 1024 --layers 16 --batch 512).
. "$(dirname "$0")/gpu-setup.sh"
ROUNDS=${1:-15}
OLD=${2:-}
ARGS=${ARGS:---hidden 1024 --layers 16 --batch 512}
LIMITS="--max-submission-time 60s --max-gpu-share 100%"

# `NAME whole first after` for a run: ms a step, the first step's ms, ms a step after it.
infer() {
  awk -v name="$1" -F': ' '
    /^bench infer: / { split($2, a, " "); whole = a[1] }
    /^bench infer first step: / { split($2, a, " "); first = a[1] }
    /^bench infer after the first: / { split($2, a, " "); after = a[1] }
    END { if (whole == "") exit 1; print name, whole, first, after }'
}

runs=(direct "$W" "$G/bench_infer.wasm")
$W plug $G/bench_infer.wasm -o /tmp/ab.plain.wasm
$W plug $G/bench_infer.wasm $LIMITS -o /tmp/ab.limited.wasm
runs+=(plain "$W" /tmp/ab.plain.wasm limited "$W" /tmp/ab.limited.wasm)
if [ -n "$OLD" ]; then
  $OLD plug $G/bench_infer.wasm -o /tmp/ab.old.plain.wasm
  $OLD plug $G/bench_infer.wasm $LIMITS -o /tmp/ab.old.limited.wasm
  runs+=(old.plain "$OLD" /tmp/ab.old.plain.wasm old.limited "$OLD" /tmp/ab.old.limited.wasm)
fi

section "inference-like job, $ARGS, $ROUNDS alternating rounds (ms a step: whole run, first step, after the first)"
results=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for ((i = 0; i < ${#runs[@]}; i += 3)); do
    "${runs[i + 1]}" run "${runs[i + 2]}" $ARGS 2>/dev/null | infer "${runs[i]}" | tee -a "$results" \
      || echo "${runs[i]}: the run printed no figures" >&2
  done
done

section "medians (ratio to direct)"
awk '
  function median(list, n,   sorted, i, j, t) {
    for (i = 1; i <= n; i++) sorted[i] = list[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && sorted[j - 1] > sorted[j]; j--) { t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t }
    return n % 2 ? sorted[(n + 1) / 2] : (sorted[n / 2] + sorted[n / 2 + 1]) / 2
  }
  { n[$1]++; whole[$1, n[$1]] = $2; first[$1, n[$1]] = $3; after[$1, n[$1]] = $4; if (!($1 in seen)) { seen[$1]; order[++names] = $1 } }
  END {
    for (k = 1; k <= names; k++) {
      name = order[k]
      for (i = 1; i <= n[name]; i++) { w[i] = whole[name, i]; f[i] = first[name, i]; a[i] = after[name, i] }
      mw[name] = median(w, n[name]); mf[name] = median(f, n[name]); ma[name] = median(a, n[name])
    }
    for (k = 1; k <= names; k++) {
      name = order[k]
      printf "%-12s n=%-3d whole %.3f (%.3fx)  first %.2f  after the first %.3f (%.3fx)\n", name, n[name],
        mw[name], mw[name] / mw["direct"], mf[name], ma[name], ma[name] / ma["direct"]
    }
  }' "$results"
rm -f "$results"
