#!/usr/bin/env bash
# Builds bench/device/dist/ (gitignored), what the device check carries to a GPU machine that has
# no Node, no npm and no network: pass it as the device tool's `carry` (docs/deployment.md, "Device
# check"). Everything but the scripts is packed into one xz archive, under the 64 MiB that travels:
#   node            this machine's Node binary (glibc ≥ 2.28, no other library)
#   app/bin/*.mjs   the check, the diffq CLI and the golden runner, bundled by esbuild (bundle.ts)
#   app/node_modules/onnxruntime-{node,common}  its JS and the linux-x64 binding with libonnxruntime.so.1
#                   (WebGPU, Dawn over Vulkan, is inside it; the CUDA provider's library is not carried)
#   lib/            redis-server's libraries that a plain Ubuntu lacks (only those: a carried libstdc++ or
#                   libssl on LD_LIBRARY_PATH would shadow newer ones that PyTorch needs), and the Vulkan loader
#   redis-server    for the end-to-end demo's private Redis
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# DIFFQ_DEVICE_DIST puts it elsewhere (the rehearsal test builds into a temporary folder).
dist=${DIFFQ_DEVICE_DIST:-"$here/dist"}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

rm -rf "$dist"
mkdir -p "$dist" "$stage/lib" "$stage/app/node_modules"
(cd "$repo" && node --import tsx bench/device/bundle.ts "$stage")

# Its debug symbols are a seventh of it and nothing reads them there.
strip -o "$stage/node" "$(command -v node)"
ort="$repo/node_modules/onnxruntime-node"
mkdir -p "$stage/app/node_modules/onnxruntime-node/bin/napi-v6/linux"
cp -r "$ort/package.json" "$ort/dist" "$stage/app/node_modules/onnxruntime-node/"
cp -r "$ort/bin/napi-v6/linux/x64" "$stage/app/node_modules/onnxruntime-node/bin/napi-v6/linux/"
rm -f "$stage/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_"*
cp -r "$repo/node_modules/onnxruntime-common" "$stage/app/node_modules/"

# redis-server and the libraries it links that Ubuntu's base image does not have.
redis=$(readlink -f "$(command -v redis-server)")
cp "$redis" "$stage/redis-server"
ldd "$redis" | awk '/=> \// {print $3}' | grep -E '/(liblzf|libjemalloc|libatomic)\.so' | while read -r lib; do
  cp -L "$lib" "$stage/lib/"
done

# The Vulkan loader (libvulkan.so.1), which Dawn opens; the GPU machine's driver brings the ICD.
vulkan_deb=$(ls "$here"/cache/libvulkan1_*.deb 2>/dev/null | head -1 || true)
if [ -z "$vulkan_deb" ]; then
  mkdir -p "$here/cache"
  (cd "$here/cache" && apt-get download libvulkan1 >/dev/null 2>&1) || echo "prepare: apt-get download libvulkan1 failed; the check will need the machine's own loader" >&2
  vulkan_deb=$(ls "$here"/cache/libvulkan1_*.deb 2>/dev/null | head -1 || true)
fi
if [ -n "$vulkan_deb" ]; then
  x=$(mktemp -d)
  dpkg -x "$vulkan_deb" "$x"
  cp -L "$x"/usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$stage/lib/"
  rm -rf "$x"
fi

# The x86 branch filter before LZMA2 shrinks executables more than a stronger preset does.
tar -C "$stage" -cf - . | xz -T0 --x86 --lzma2=preset=9 > "$dist/payload.tar.xz"

# What the device tool sends: the tracked files, untracked ones git does not ignore, and the carry.
limit=$((64 * 1048576))
tree=$(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s}')
payload=$(stat -c %s "$dist/payload.tar.xz")
awk -v t="$tree" -v p="$payload" -v l="$limit" 'BEGIN {printf "prepare: payload %.1f MiB + working tree %.1f MiB = %.1f MiB of the %.0f MiB that travels\n", p / 1048576, t / 1048576, (t + p) / 1048576, l / 1048576}' >&2
if [ $((tree + payload)) -gt "$limit" ]; then
  # Most of the tree is golden cases the check does not run; slim-tree.sh moves them out for the run.
  slim=$(bash "$here/slim-tree.sh" slim-size)
  awk -v s="$slim" -v p="$payload" -v l="$limit" 'BEGIN {printf "prepare: over the limit as the tree stands; after `bash bench/device/slim-tree.sh stash` it is %.1f MiB + %.1f MiB = %.1f MiB\n", s, p / 1048576, s + p / 1048576}' >&2
  if awk -v s="$slim" -v p="$payload" -v l="$limit" 'BEGIN {exit !(s * 1048576 + p > l)}'; then
    echo "prepare: over the limit even slimmed: the device tool would refuse this carry" >&2
    exit 1
  fi
fi
