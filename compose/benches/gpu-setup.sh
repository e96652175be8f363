# What the GPU scripts (gpu-time.sh, gpu-loops.sh, gpu-chunks.sh) share: run from the repository
# root on a GPU machine, with the release `webgpu-virt` and the guests' `.wasm` files in .bench/
# and the Vulkan loader's .debs in .gl/ (docs/benchmarks.md). Sourced, not run.
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
