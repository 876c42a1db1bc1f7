#!/usr/bin/env bash
# Checks an Android shared object the way the devices of our minSdk (API 26)
# will load it:
#   - every LOAD segment aligned to at least 16 KB (Android 15+ devices with
#     16 KB pages; Play requires it);
#   - every libc function bionic gained after API 26 that the library
#     references (android/symbols/bionic-after-api26.txt, from bionic's
#     docs/status.md) is an undefined WEAK symbol: a strong reference to a
#     function an older bionic lacks fails dlopen on that device, a weak one
#     resolves to null and the caller (Rust's std) falls back.
#
#   scripts/check-android-symbols.sh LIB.so     (READELF=... to pick readelf)
# Run by scripts/check-targets.sh on the measurement link and by
# android/build.sh on every library it ships.
set -euo pipefail
cd "$(dirname "$0")/.."

so=${1:?usage: $0 LIB.so}
readelf=${READELF:-readelf}
list=android/symbols/bionic-after-api26.txt
PAGE=16384

die() { echo "check-android-symbols.sh: $so: $*" >&2; exit 1; }

loads=$("$readelf" -lW "$so" | grep -E '^ *LOAD ') || die "no LOAD segments"
while read -r line; do
  align=${line##* }
  (( align >= PAGE )) || die "LOAD segment aligned to $align, below 16 KB: $line"
done <<< "$loads"

# `readelf --dyn-syms -W`: Num: Value Size Type Bind Vis Ndx Name[@version].
undefined=$("$readelf" --dyn-syms -W "$so" |
  awk '$7 == "UND" && $8 != "" { sub(/@.*/, "", $8); print $5, $8 }')
newer=$(grep -vE '^(#|$)' "$list")
status=0 weak=()
while read -r bind name; do
  [ -n "$name" ] || continue
  grep -qxF "$name" <<< "$newer" || continue
  if [ "$bind" = WEAK ]; then
    weak+=("$name")
  else
    echo "check-android-symbols.sh: $so: $name (bionic after API 26) is referenced $bind, not WEAK" >&2
    status=1
  fi
done <<< "$undefined"
[ "$status" = 0 ] || exit 1
echo "$so: LOAD segments >= 16 KB aligned; post-API-26 libc referenced weakly: ${weak[*]:-none}"
