#!/usr/bin/env bash
# GPU-time figures on a GPU machine (docs/gpu-time.md). Run from the repository root, with the
# release `webgpu-virt` and the guests' `.wasm` files in .bench/ and the Vulkan loader .debs in
# .gl/ (docs/benchmarks.md).
. "$(dirname "$0")/gpu-setup.sh"

section "0. compute alone"
$W run $G/compute.wasm

section "1. never-ending loop (1 workgroup) alone, --max-submission-time 2s (loop budget 2^30 by default)"
$W plug $G/runaway.wasm --max-submission-time 2s -o /tmp/rl.wasm
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/rl.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "1b. the same with no limit, loop budget 2^30 only: how long the bounded loop runs"
$W plug $G/runaway.wasm --gpu-time --max-loop-iterations 1073741824 -o /tmp/rb.wasm
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/rb.wasm --wait 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "2. pod sharing one host device: never-ending runaway + compute, --max-submission-time 2s"
$W plug --guest a=$G/runaway.wasm --guest b=$G/compute.wasm --max-submission-time 2s -o /tmp/pod.wasm
for i in 1 2; do s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"; done

section "3. pod, device per guest: never-ending runaway + compute, --max-submission-time 2s"
$W plug --guest a=$G/runaway.wasm --guest b=$G/compute.wasm --max-submission-time 2s --device-per-guest -o /tmp/podd.wasm
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/podd.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "4. pod sharing one host device: WIDE runaway (65535 workgroups) + compute (no dispatch splitting yet; killed at 30 s)"
s=$(ts); timeout -s KILL 30 $W run --stats /tmp/pod.wasm --wide --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "5. loops guest: direct, budget 20, budget 100"
$W run $G/loops.wasm
for b in 20 100; do $W plug $G/loops.wasm --max-loop-iterations $b -o /tmp/loops.$b.wasm; $W run /tmp/loops.$b.wasm; done

# The 1024x1024 matmul and the inference-like job, direct, through the plain virt and under every
# limit: gpu-chunks.sh.
