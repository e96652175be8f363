#!/usr/bin/env bash
# Runs the GPU test guests on the published wasi-webgpu-wasmtime host (this crate's runner),
# direct and through the virt (plain and with each quota), and compares each output with what the
# guest prints on this project's host. Called by `./x published [GUEST...]` (default: every GPU
# guest), after the build.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
published="$top/target/published/release/published-host"
ours="$top/target/debug/webgpu-virt"
guests="$top/target/guests/wasm32-wasip2/release/examples"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limit=60

# "exit CODE" or "hangs" (no end within the limit) or "panics" (the host panicked), and whether
# the output matches this project's host's.
outcome() {
    local app=$1 want=$2
    timeout $limit "$published" "$app" > "$work/out" 2> "$work/err"
    local code=$?
    if [ $code = 124 ]; then echo "hangs"; return; fi
    if grep -q "panicked at" "$work/err"; then
        echo "panics: $(grep -m1 -A1 'panicked at' "$work/err" | tail -1 | cut -c1-90)"
        return
    fi
    if cmp -s "$work/out" "$want"; then echo "exit $code, same output"; else echo "exit $code, OTHER OUTPUT"; fi
}

quotas=("--max-memory 64MiB" "--max-buffer-size 1MiB" "--max-objects buffers=64,textures=16,pipelines=8" "--max-in-flight 2")
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(compute render mapping copies textures bundles queries errors uncaptured lost labels limits invalid flood devices)
for name in "${names[@]}"; do
    "$ours" run "$guests/$name.wasm" > "$work/$name.want" 2>/dev/null
    direct=$(outcome "$guests/$name.wasm" "$work/$name.want")
    echo "$name: direct: $direct"
    case "$direct" in exit\ 0,\ same*) ;; *) continue ;; esac
    "$ours" plug "$guests/$name.wasm" -o "$work/virt.wasm" && echo "  through the virt: $(outcome "$work/virt.wasm" "$work/$name.want")"
    for q in "${quotas[@]}"; do
        # shellcheck disable=SC2086
        "$ours" plug "$guests/$name.wasm" $q -o "$work/quota.wasm" && echo "  through the virt, $q: $(outcome "$work/quota.wasm" "$work/$name.want")"
    done
done
