#!/usr/bin/env bash
# The device check (docs/deployment.md, "Device check"), run from the repository root on the GPU
# machine after bench/device/prepare.sh built bench/device/dist/ here and it travelled as `carry`:
#   bash bench/device/run.sh [--provider webgpu|cuda|cpu|auto] [--quick] [--skip golden,timing,e2e]
# Prints one JSON line per figure on stdout; logs on stderr. Defaults to the webgpu provider.
# DIFFQ_DEVICE_DIST is where prepare.sh built the payload (default bench/device/dist), DIFFQ_DEVICE_ROOT
# where it is unpacked (default /tmp/diffq-device); the rehearsal test sets both to a temporary folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
payload="${DIFFQ_DEVICE_DIST:-$here/dist}/payload.tar.xz"
[ -f "$payload" ] || { echo "run.sh: $payload is missing: run bench/device/prepare.sh here first" >&2; exit 2; }
root=${DIFFQ_DEVICE_ROOT:-/tmp/diffq-device}
rm -rf "$root" && mkdir -p "$root"
xz -dc "$payload" | tar -C "$root" -xf -

export PATH="$root:$PATH"
export LD_LIBRARY_PATH="$root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# NVIDIA's container mounts keep the driver's Vulkan ICD outside the loader's default search path.
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && ! ls /usr/share/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
# tfjs only carries tensors between onnxruntime calls here; its wasm backend's .wasm files do not travel.
export DIFFQ_BACKEND="${DIFFQ_BACKEND:-cpu}"
# Dawn warns without it; nothing is displayed.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$root}"
exec "$root/node" "$root/app/bin/device-check.mjs" --repo "$repo" --python "${PYTHON:-python3}" "$@"
