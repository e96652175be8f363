#!/usr/bin/env bash
# Dispatch chunks on a GPU machine (docs/gpu-time.md): a wide runaway (65535 workgroups of a
# bounded never-ending loop) beside a well-behaved guest under a 2 s limit, on a shared host
# device and with a device per guest, and alone; the same work as many dispatches, as an
# indirect one, and as draws; the chunks and draws guests direct and under a limit; and
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

section "4b. pod sharing one host device: the runaway as 2000 dispatches of 64 workgroups in one pass (dispatches set apart), then as one indirect dispatch of 65535 (read back, then cut), --max-submission-time 2s"
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --workgroups 64 --dispatches 2000 --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
s=$(ts); timeout -s KILL 30 $W run --stats /tmp/pod.wasm --wide --indirect --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "4c. pod sharing one host device: the runaway as 100 dispatches of 300 workgroups (each cut), then as draws: 65535 instances of a triangle whose fragments run the loops, and 2000 draws of 64 such instances, --max-submission-time 2s"
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --workgroups 300 --dispatches 100 --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --draw --wide --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"
s=$(ts); timeout -s KILL 60 $W run --stats /tmp/pod.wasm --draw --workgroups 64 --dispatches 2000 --wait --lost 2>&1 | quiet; echo "rc=$? wall=$(sub $(ts) $s)"

section "5. chunks and draws guests: direct, then under --max-submission-time 60s (the same lines, and their chunks)"
for g in chunks draws; do
  $W run $G/$g.wasm > /tmp/$g.direct
  $W plug $G/$g.wasm --max-submission-time 60s -o /tmp/$g.wasm
  $W run --stats /tmp/$g.wasm 2>/tmp/$g.stats > /tmp/$g.limited
  cat /tmp/$g.direct; diff /tmp/$g.direct /tmp/$g.limited && echo "same through the limit"; grep "gpu-time" /tmp/$g.stats | grep -v " 0$"
done

section "6. 1024x1024 tiled matmul (ms): direct / plain virt / every new limit, generous (5 alternating runs)"
$W plug $G/bench_matmul.wasm -o /tmp/mm.plain.wasm
$W plug $G/bench_matmul.wasm --max-submission-time 60s --max-gpu-share 100% -o /tmp/mm.limited.wasm
for i in 1 2 3 4 5; do
  for c in $G/bench_matmul.wasm /tmp/mm.plain.wasm /tmp/mm.limited.wasm; do
    echo "$(basename $c) $($W run $c 2>/dev/null | grep 'bench matmul')"
  done
done

# bench_infer's three figures on one line: the whole run, its first step, the steps after it.
infer() { grep 'bench infer' | awk -F': ' '{ printf "%s | ", $2 } END { print "" }'; }

section "7. inference-like job (ms a step; whole | first step | after the first): direct / plain virt / --gpu-time / every new limit, generous / the time limit alone (7 alternating runs)"
ARGS="--hidden 1024 --layers 16 --batch 512"
$W plug $G/bench_infer.wasm -o /tmp/infer.plain.wasm
$W plug $G/bench_infer.wasm --gpu-time -o /tmp/infer.timed.wasm
$W plug $G/bench_infer.wasm --max-submission-time 60s --max-gpu-share 100% -o /tmp/infer.limited.wasm
$W plug $G/bench_infer.wasm --max-submission-time 60s -o /tmp/infer.time.wasm
for i in 1 2 3 4 5 6 7; do
  for c in $G/bench_infer.wasm /tmp/infer.plain.wasm /tmp/infer.timed.wasm /tmp/infer.limited.wasm /tmp/infer.time.wasm; do
    echo "$(basename $c) $($W run $c $ARGS 2>/dev/null | infer)"
  done
done

section "7b. the same job's first step as the runtime saw it (compose/benches/host-trace.sh of a WEBGPU_HOST_TRACE run, 1 step): direct, then every new limit"
for c in $G/bench_infer.wasm /tmp/infer.limited.wasm; do
  echo "-- $(basename $c)"
  WEBGPU_HOST_TRACE=1 $W run $c $ARGS --steps 1 > /tmp/infer.trace 2>&1
  bash compose/benches/host-trace.sh /tmp/infer.trace
done

section "8. inference-like job, 200 steps (ms a step): direct / every new limit / each part of it alone (3 alternating runs)"
$W plug $G/bench_infer.wasm --gpu-time --max-loop-iterations 937500000 -o /tmp/infer.loops.wasm
$W plug $G/bench_infer.wasm --max-gpu-share 100% -o /tmp/infer.share.wasm
for i in 1 2 3; do
  for c in $G/bench_infer.wasm /tmp/infer.limited.wasm /tmp/infer.timed.wasm /tmp/infer.loops.wasm /tmp/infer.share.wasm /tmp/infer.time.wasm; do
    echo "$(basename $c) $($W run $c $ARGS --steps 200 2>/dev/null | infer)"
  done
done

section "9. light and heavy flooders (10x per submission), pool cap 2: light guest's share of GPU time while both had work, weights 1:1 and 2:1"
for weights in "1:1|" "2:1|[guests.a]
weight = 2"; do
  printf '[pool]\nmax-in-flight = 2\n%s\n' "${weights#*|}" > /tmp/pod.toml
  $W plug --guest a=$G/bench_flood.wasm --guest b=$G/bench_flood_heavy.wasm --config /tmp/pod.toml -o /tmp/flood.wasm
  for work in 4096 65536; do
    $W run --stats /tmp/flood.wasm --ms 2500 --work $work 2>&1 >/dev/null \
      | awk -v w="${weights%%|*}" -v k=$work '/quota pool a gpu time us while contended/ { a = $NF } /quota pool b gpu time us while contended/ { b = $NF } END { printf "weights %s, --work %s: share %.3f (a %d us, b %d us)\n", w, k, a / (a + b), a, b }'
  done
done
