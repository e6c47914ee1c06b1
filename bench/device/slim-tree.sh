#!/usr/bin/env bash
# The device tool sends the files of this checkout that exist (tracked, and untracked ones git does
# not ignore) plus `carry`, 64 MiB in all. The golden cases are most of the tree (38 MB) and the
# check needs only the kinds it runs on the GPU, so before a device run the others are moved out of
# the checkout, and back after it. Nothing is deleted: `restore` puts back exactly what `stash` took.
#   bash bench/device/slim-tree.sh stash     # before the device tool's run
#   bash bench/device/slim-tree.sh restore   # after it (git status is clean again)
#   bash bench/device/slim-tree.sh size      # what would travel now, in MiB
#   bash bench/device/slim-tree.sh slim-size # what would travel after `stash`, in MiB
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
stash=${DIFFQ_DEVICE_STASH:-"$repo/../.diffq-device-stash"}
cases="$repo/test/golden/cases"
# The kinds device-check.ts runs on the provider (its golden step).
keep='"kind": *"(unet_forward|dit_forward|vae_decode)"'

tree_bytes() {
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
}

# The golden case folders stash would move.
unneeded() {
  for dir in "$cases"/*/; do
    grep -Eq "$keep" "$dir/case.json" 2>/dev/null || basename "$dir"
  done
}

case "${1:-}" in
  stash)
    if [ -d "$stash" ] && [ -n "$(ls -A "$stash" 2>/dev/null)" ]; then
      echo "slim-tree: $stash already holds stashed cases; run 'restore' first" >&2
      exit 1
    fi
    mkdir -p "$stash"
    moved=0
    for name in $(unneeded); do
      mv "$cases/$name" "$stash/$name"
      moved=$((moved + 1))
    done
    echo "slim-tree: moved $moved golden cases to $stash; the tree is now $(tree_bytes | awk '{printf "%.1f", $1 / 1048576}') MiB" >&2
    ;;
  restore)
    [ -d "$stash" ] || { echo "slim-tree: nothing stashed at $stash" >&2; exit 0; }
    for dir in "$stash"/*/; do
      [ -d "$dir" ] || continue
      name=$(basename "$dir")
      if [ -e "$cases/$name" ]; then
        echo "slim-tree: $cases/$name exists; left $dir where it is" >&2
        exit 1
      fi
      mv "$dir" "$cases/$name"
    done
    rmdir "$stash"
    echo "slim-tree: restored; the tree is $(tree_bytes | awk '{printf "%.1f", $1 / 1048576}') MiB" >&2
    ;;
  size)
    tree_bytes | awk '{printf "%.1f\n", $1 / 1048576}'
    ;;
  slim-size)
    taken=0
    for name in $(unneeded); do taken=$((taken + $(find "$cases/$name" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'))); done
    echo "$(tree_bytes) $taken" | awk '{printf "%.1f\n", ($1 - $2) / 1048576}'
    ;;
  *)
    echo "usage: bash bench/device/slim-tree.sh stash|restore|size|slim-size" >&2
    exit 2
    ;;
esac
