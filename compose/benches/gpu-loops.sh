#!/usr/bin/env bash
# Loop budgets on a GPU machine (docs/gpu-time.md): how long the bounded never-ending loop runs,
# and the pods under a 2 s limit with budgets of 2 s over 128, 64 and 32 ns. Set up as for
# gpu-time.sh.
. "$(dirname "$0")/gpu-setup.sh"
quiet() { grep -v "^  quota\|^  host\|^  calls\|queue operations\|longest"; }
$W run $G/compute.wasm >/dev/null 2>&1
for b in 15625000 31250000 62500000; do
  section "runaway alone, budget $b, no limit (GPU time = how long the bounded loops run)"
  $W plug $G/runaway.wasm --gpu-time --max-loop-iterations $b -o /tmp/rb.wasm
  s=$(ts); timeout -s KILL 40 $W run --stats /tmp/rb.wasm --wait 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
  section "pod sharing one host device: runaway + compute, limit 2s, budget $b"
  $W plug --guest a=$G/runaway.wasm --guest b=$G/compute.wasm --max-submission-time 2s --max-loop-iterations $b -o /tmp/pod.wasm
  s=$(ts); timeout -s KILL 40 $W run --stats /tmp/pod.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
done
section "pod, device per guest, limit 2s, budget 31250000"
$W plug --guest a=$G/runaway.wasm --guest b=$G/compute.wasm --max-submission-time 2s --max-loop-iterations 31250000 --device-per-guest -o /tmp/podd.wasm
s=$(ts); timeout -s KILL 40 $W run --stats /tmp/podd.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
section "runaway alone, limit 2s, budget 31250000"
$W plug $G/runaway.wasm --max-submission-time 2s --max-loop-iterations 31250000 -o /tmp/rl.wasm
s=$(ts); timeout -s KILL 40 $W run --stats /tmp/rl.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
section "compute alone through a virt: start to exit"
$W plug $G/compute.wasm --max-submission-time 2s -o /tmp/c.wasm
s=$(ts); $W run /tmp/c.wasm; echo "wall=$(sub $(ts) $s)"
