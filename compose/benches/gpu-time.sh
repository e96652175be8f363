#!/usr/bin/env bash
# GPU-time figures on a GPU machine (docs/gpu-time.md). Run from the repository root, with the
# release `webgpu-virt` and the guests' `.wasm` files in .bench/ and the Vulkan loader .debs in
# .gl/ (docs/benchmarks.md).
set -u
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export MESA_SHADER_CACHE_DIR=/tmp/mesa XDG_RUNTIME_DIR=/tmp
W=.bench/webgpu-virt; G=.bench
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
$W adapter
ts() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
section() { echo; echo "=== $*"; }
quiet() { grep -v "^  quota\|^  host\|^  calls"; }

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

section "6. what bounded loops cost: 1024x1024 tiled matmul (ms), direct / plain virt / loop budget 2^30 (5 alternating runs)"
$W plug $G/bench_matmul.wasm -o /tmp/mm.plain.wasm
$W plug $G/bench_matmul.wasm --max-loop-iterations 1073741824 -o /tmp/mm.bounded.wasm
for i in 1 2 3 4 5; do
  for c in $G/bench_matmul.wasm /tmp/mm.plain.wasm /tmp/mm.bounded.wasm; do
    echo "$(basename $c) $($W run $c 2>/dev/null | grep 'bench matmul')"
  done
done

section "7. inference-like job: direct vs through a virt with every new limit set generously (7 alternating runs, ms a step)"
ARGS="--hidden 1024 --layers 16 --batch 512"
$W plug $G/bench_infer.wasm -o /tmp/infer.plain.wasm
$W plug $G/bench_infer.wasm --gpu-time -o /tmp/infer.timed.wasm
$W plug $G/bench_infer.wasm --max-submission-time 60s --max-gpu-share 100% -o /tmp/infer.limited.wasm
for i in 1 2 3 4 5 6 7; do
  for c in $G/bench_infer.wasm /tmp/infer.plain.wasm /tmp/infer.timed.wasm /tmp/infer.limited.wasm; do
    echo "$(basename $c) $($W run $c $ARGS 2>/dev/null | grep 'bench infer')"
  done
done
