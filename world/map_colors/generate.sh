#!/usr/bin/env bash
# Usage: world/map_colors/generate.sh   (needs npm, python3 3.11+, `cargo fetch` done, and tests/node_modules installed)
# Regenerates world/src/map/colors.tsv from minecraft-assets 1.19.0 (textures of 1.20.2) and minecraft-data's tints.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tints="$root/tests/node_modules/minecraft-data/minecraft-data/data/pc/1.20/tints.json"
out="$root/world/src/map/colors.tsv"

if [[ ! -f "$tints" ]]; then
    echo "generate.sh: no $tints; run npm ci in tests/ first" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# MINECRAFT_ASSETS_TGZ may name an already downloaded minecraft-assets-1.19.0.tgz.
if [[ -n "${MINECRAFT_ASSETS_TGZ:-}" ]]; then
    tgz="$MINECRAFT_ASSETS_TGZ"
else
    (cd "$tmp" && npm pack --silent minecraft-assets@1.19.0 >/dev/null)
    tgz="$tmp/minecraft-assets-1.19.0.tgz"
fi
tar -xzf "$tgz" -C "$tmp" package/minecraft-assets/data/1.20.2

python3 "$here/generate.py" \
    --assets "$tmp/package/minecraft-assets/data/1.20.2" \
    --tints "$tints" \
    --out "$out"
echo "wrote $out" >&2
