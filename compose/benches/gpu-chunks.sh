#!/usr/bin/env bash
# Dispatch chunks on a GPU machine (docs/gpu-time.md): a wide runaway (65535 workgroups of a
# bounded never-ending loop) beside a well-behaved guest under a 2 s limit, on a shared host
# device and with a device per guest, and alone; the chunks guest direct and under a limit; and
# what the limits cost the 1024x1024 matmul and the inference-like job. Set up as for
# gpu-time.sh.
. "$(dirname "$0")/gpu-setup.sh"

section "0. compute alone"
s=$(ts); $W run $G/compute.wasm; echo "wall=$(sub $(ts) $s)"

section "1. wide runaway alone, --max-submission-time 2s"
$W plug $G/runaway.wasm --max-submission-time 2s -o /tmp/rl.wasm
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/rl.wasm --wide --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "2. pod sharing one host device: wide runaway + compute, --max-submission-time 2s"
$W plug --guest a=$G/runaway.wasm --guest b=$G/compute.wasm --max-submission-time 2s -o /tmp/pod.wasm
for i in 1 2; do s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --wide --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"; done

section "3. pod, device per guest: wide runaway + compute, --max-submission-time 2s"
$W plug --guest a=$G/runaway.wasm --guest b=$G/compute.wasm --max-submission-time 2s --device-per-guest -o /tmp/podd.wasm
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/podd.wasm --wide --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "4. pod sharing one host device: never-ending runaway (1 workgroup) + compute, --max-submission-time 2s"
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "5. chunks guest: direct, then under --max-submission-time 60s (the same lines, and its chunks)"
$W run $G/chunks.wasm > /tmp/chunks.direct
$W plug $G/chunks.wasm --max-submission-time 60s -o /tmp/chunks.wasm
$W run --stats /tmp/chunks.wasm 2>/tmp/chunks.stats > /tmp/chunks.limited
cat /tmp/chunks.direct; diff /tmp/chunks.direct /tmp/chunks.limited && echo "same through the limit"; grep "gpu-time" /tmp/chunks.stats

section "6. 1024x1024 tiled matmul (ms): direct / plain virt / every new limit, generous (5 alternating runs)"
$W plug $G/bench_matmul.wasm -o /tmp/mm.plain.wasm
$W plug $G/bench_matmul.wasm --max-submission-time 60s --max-gpu-share 100% -o /tmp/mm.limited.wasm
for i in 1 2 3 4 5; do
  for c in $G/bench_matmul.wasm /tmp/mm.plain.wasm /tmp/mm.limited.wasm; do
    echo "$(basename $c) $($W run $c 2>/dev/null | grep 'bench matmul')"
  done
done

section "7. inference-like job (ms a step): direct / plain virt / --gpu-time / every new limit, generous (7 alternating runs)"
ARGS="--hidden 1024 --layers 16 --batch 512"
$W plug $G/bench_infer.wasm -o /tmp/infer.plain.wasm
$W plug $G/bench_infer.wasm --gpu-time -o /tmp/infer.timed.wasm
$W plug $G/bench_infer.wasm --max-submission-time 60s --max-gpu-share 100% -o /tmp/infer.limited.wasm
for i in 1 2 3 4 5 6 7; do
  for c in $G/bench_infer.wasm /tmp/infer.plain.wasm /tmp/infer.timed.wasm /tmp/infer.limited.wasm; do
    echo "$(basename $c) $($W run $c $ARGS 2>/dev/null | grep 'bench infer')"
  done
done
