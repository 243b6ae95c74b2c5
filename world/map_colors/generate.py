#!/usr/bin/env python3
"""Make the table of top-down map colours, one line per block of 1.20.1.

Usage: generate.py --assets DIR --tints tints.json [--blocks blocks.json] [--out colors.tsv]
where DIR is minecraft-assets' data/1.20.2 (blocks_states.json, blocks_models.json, blocks/*.png).
Normally run through generate.sh, which fetches minecraft-assets 1.19.0 with npm.

Python 3.11, standard library only (a small PNG decoder is below). For each
block it takes the models of the default state (the upper half of two-block
tall plants and doors), resolves them through their `parent` chains, and looks
from above: over a 16x16 grid of columns, the topmost up face of the model's
elements covers each column (whole cubes of nearly clear glass are looked
through); the colour is the mean of those faces' texture colours. A texture's
colour is the alpha-weighted mean RGB of its first square frame, multiplied by
the tint the client applies (plains biome, or the block's constant tint).
Models without up faces (flowers, fluids) use the texture keys top, up, end,
all, texture, cross, plant, then any face's texture. Blocks drawn by
block-entity renderers (beds, chests, heads, banners) use their entity
textures. Blocks that show nothing from above are written as `-`; every
fallback (particle texture, texture named after the block, `-`) is logged to
stderr.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import struct
import sys
import zlib

# ---------------------------------------------------------------------------
# PNG decoding
# ---------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ALLOWED_DEPTHS = {
    0: (1, 2, 4, 8, 16),
    2: (8, 16),
    3: (1, 2, 4, 8),
    4: (8, 16),
    6: (8, 16),
}


class PngError(Exception):
    pass


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> list[bytearray]:
    """Undo the five scanline filters; returns the rows without filter bytes."""
    if len(raw) < height * (stride + 1):
        raise PngError(f"image data too short: {len(raw)} < {height * (stride + 1)}")
    rows: list[bytearray] = []
    prev = bytearray(stride)
    pos = 0
    for _ in range(height):
        ftype = raw[pos]
        line = bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += stride + 1
        if ftype == 0:
            pass
        elif ftype == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif ftype == 2:  # Up
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif ftype == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:  # Paeth
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xFF
        else:
            raise PngError(f"unknown scanline filter {ftype}")
        rows.append(line)
        prev = line
    return rows


def _samples(line: bytearray, count: int, depth: int) -> list[int]:
    """The first `count` samples of a row, each scaled to 0..255 except palette indices."""
    if depth == 8:
        return list(line[:count])
    if depth == 16:
        return [line[2 * i] for i in range(count)]  # high byte
    per_byte = 8 // depth
    mask = (1 << depth) - 1
    out = []
    for i in range(count):
        byte = line[i // per_byte]
        shift = 8 - depth * (i % per_byte + 1)
        out.append((byte >> shift) & mask)
    return out


def decode_png(data: bytes, name: str = "?") -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """Decode a PNG into (width, height, RGBA pixels row by row)."""
    if data[:8] != PNG_SIGNATURE:
        raise PngError(f"{name}: not a PNG")
    pos = 8
    ihdr = None
    palette: list[tuple[int, int, int]] = []
    trns = b""
    idat = []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"PLTE":
            palette = [tuple(body[i : i + 3]) for i in range(0, len(body) - 2, 3)]
        elif ctype == b"tRNS":
            trns = body
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            break
    if ihdr is None:
        raise PngError(f"{name}: no IHDR chunk")
    width, height, depth, color_type, compression, filter_method, interlace = ihdr
    if color_type not in CHANNELS:
        raise PngError(f"{name}: unknown colour type {color_type}")
    if depth not in ALLOWED_DEPTHS[color_type]:
        raise PngError(f"{name}: bit depth {depth} not allowed for colour type {color_type}")
    if compression != 0 or filter_method != 0:
        raise PngError(f"{name}: unknown compression or filter method")
    if interlace != 0:
        raise PngError(f"{name}: interlaced (Adam7) PNGs are not supported; re-save it without interlacing")
    if color_type == 3 and not palette:
        raise PngError(f"{name}: palette image without PLTE")

    channels = CHANNELS[color_type]
    bits_per_pixel = channels * depth
    stride = (width * bits_per_pixel + 7) // 8
    bpp = max(1, bits_per_pixel // 8)
    rows = _unfilter(zlib.decompress(b"".join(idat)), height, stride, bpp)

    # Transparency from tRNS: palette alphas, or one transparent grey/RGB value.
    alphas = list(trns) if color_type == 3 else []
    key = None
    if color_type == 0 and len(trns) >= 2:
        key = (struct.unpack(">H", trns[:2])[0],)
    elif color_type == 2 and len(trns) >= 6:
        key = struct.unpack(">HHH", trns[:6])

    scale = 255 // ((1 << depth) - 1) if depth < 8 else 1
    pixels: list[tuple[int, int, int, int]] = []
    for line in rows:
        if depth == 16 and key is not None:
            raw16 = [struct.unpack(">H", line[i : i + 2])[0] for i in range(0, width * channels * 2, 2)]
        s = _samples(line, width * channels, depth)
        for x in range(width):
            if color_type == 3:
                idx = s[x]
                if idx >= len(palette):
                    raise PngError(f"{name}: palette index {idx} out of range")
                r, g, b = palette[idx]
                a = alphas[idx] if idx < len(alphas) else 255
            elif color_type == 0:
                v = s[x] * scale
                r = g = b = v
                original = raw16[x] if depth == 16 and key is not None else s[x]
                a = 0 if key is not None and (original,) == key else 255
            elif color_type == 4:
                r = g = b = s[2 * x]
                a = s[2 * x + 1]
            elif color_type == 2:
                r, g, b = s[3 * x : 3 * x + 3]
                original = tuple(raw16[3 * x : 3 * x + 3]) if depth == 16 and key is not None else (r, g, b)
                a = 0 if key is not None and original == key else 255
            else:
                r, g, b, a = s[4 * x : 4 * x + 4]
            pixels.append((r, g, b, a))
    return width, height, pixels


def read_png(path: str):
    with open(path, "rb") as f:
        return decode_png(f.read(), os.path.basename(path))


# ---------------------------------------------------------------------------
# Block models
# ---------------------------------------------------------------------------

# Blocks that show nothing from above whatever their textures say.
INVISIBLE = {"air", "cave_air", "void_air", "barrier", "light", "structure_void", "moving_piston"}

# Fluids: their models have no elements; the client draws the still texture.
FLUIDS = {"water": "water_still", "bubble_column": "water_still", "lava": "lava_still"}

# Texture keys tried, in order, when the model has no element with an up face;
# the `particle` texture comes after them, as a logged fallback.
TOP_KEYS = ("top", "up", "end", "all", "texture", "cross", "plant")

# Below this mean alpha a whole cube is seen through (glass). Cutouts that are
# not whole cubes (flowers, torches, rails) keep their colour however sparse.
SEE_THROUGH_ALPHA = 0.35

# Which blocks the client tints, and with what (BlockColors of 1.20.1).
GRASS_TINTED = {
    "grass_block", "grass", "fern", "potted_fern", "tall_grass", "large_fern",
    "sugar_cane", "pink_petals",
}
FOLIAGE_TINTED = {
    "oak_leaves", "jungle_leaves", "acacia_leaves", "dark_oak_leaves", "mangrove_leaves", "vine",
}
WATER_TINTED = {"water", "bubble_column", "water_cauldron"}

# Plains: temperature 0.8, downfall 0.4 (minecraft-data's biomes.json has no downfall).
PLAINS = ("plains", 0.8, 0.4)


def strip_name(ref: str) -> str:
    """`minecraft:block/stone` -> `stone` (the key in blocks_models.json)."""
    ref = ref.split(":", 1)[-1]
    if ref.startswith("block/"):
        ref = ref[len("block/") :]
    return ref


class Models:
    def __init__(self, models: dict):
        self.models = models

    def chain(self, name: str) -> list[dict]:
        """The model and its parents, child first."""
        out = []
        seen = set()
        key = strip_name(name)
        while key in self.models and key not in seen:
            seen.add(key)
            model = self.models[key]
            out.append(model)
            parent = model.get("parent")
            if not parent:
                break
            key = strip_name(parent)
        return out

    def textures(self, chain: list[dict]) -> dict:
        merged: dict = {}
        for model in reversed(chain):
            merged.update(model.get("textures", {}))
        return merged

    @staticmethod
    def elements(chain: list[dict]) -> list[dict]:
        for model in chain:
            if "elements" in model:
                return model["elements"]
        return []


def resolve_ref(textures: dict, ref: str | None) -> str | None:
    """Follow `#key` references; returns a texture path like `minecraft:block/stone`."""
    for _ in range(16):
        if ref is None:
            return None
        if not ref.startswith("#"):
            return ref
        ref = textures.get(ref[1:])
    return None


# The model face that points up after the blockstate's rotation about x
# (rotating about y keeps up as up), and where a model point goes:
# x=90 turns south to up, up to north, north to down.
X_ROTATION_UP = {0: "up", 90: "south", 180: "down", 270: "north"}


def rotate_point(p, x_rot: int, y_rot: int):
    x, y, z = p
    x_rot %= 360
    if x_rot == 90:
        y, z = z, 16 - y
    elif x_rot == 180:
        y, z = 16 - y, 16 - z
    elif x_rot == 270:
        y, z = 16 - z, y
    for _ in range((y_rot % 360) // 90):  # y=90 turns north to east
        x, z = 16 - z, x
    return x, y, z


def is_cube(el: dict) -> bool:
    return all(el["from"][i] <= 0 and el["to"][i] >= 16 for i in range(3))


def up_faces(elements: list[dict], x_rot: int, y_rot: int) -> list[tuple]:
    """The faces of the elements that point up in the world, as (top height,
    (x0, z0, x1, z1) footprint seen from above, face, the element is a whole cube)."""
    face_name = X_ROTATION_UP.get(x_rot % 360, "up")
    out = []
    for el in elements:
        face = el.get("faces", {}).get(face_name)
        if face is None:
            continue
        a = rotate_point(el["from"], x_rot, y_rot)
        b = rotate_point(el["to"], x_rot, y_rot)
        box = [(min(a[i], b[i]), max(a[i], b[i])) for i in range(3)]
        out.append((box[1][1], (box[0][0], box[2][0], box[0][1], box[2][1]), face, is_cube(el)))
    return out


def any_face(elements: list[dict]):
    """For models without an up face (vines, petals' stems): the first face of the first element."""
    for el in elements:
        for face in el.get("faces", {}).values():
            if "texture" in face:
                return face
    return None


# ---------------------------------------------------------------------------
# Blockstates
# ---------------------------------------------------------------------------


def default_properties(block: dict) -> dict[str, str]:
    """The property values of the block's default state (valence's blocks.json)."""
    props = block.get("properties", [])
    if not props:
        return {}
    index = block["default_state_id"] - block["states"][0]["id"]
    values = {}
    for prop in reversed(props):
        n = len(prop["values"])
        values[prop["name"]] = prop["values"][index % n]
        index //= n
    return values


def seen_properties(block: dict) -> dict[str, str]:
    """The default state, except that two-block-tall blocks (tall flowers, doors)
    are looked at in their upper half: that is the half a map sees from above."""
    props = default_properties(block)
    for prop in block.get("properties", []):
        if prop["name"] == "half" and set(prop["values"]) == {"upper", "lower"}:
            props["half"] = "upper"
    return props


def variant_matches(key: str, props: dict[str, str]) -> bool:
    if key == "":
        return True
    for cond in key.split(","):
        name, _, value = cond.partition("=")
        if props.get(name) != value:
            return False
    return True


def when_matches(when: dict, props: dict[str, str]) -> bool:
    if "OR" in when:
        return any(when_matches(w, props) for w in when["OR"])
    if "AND" in when:
        return all(when_matches(w, props) for w in when["AND"])
    return all(props.get(name) in str(value).split("|") for name, value in when.items())


def default_models(state: dict, props: dict[str, str]) -> list[dict]:
    """The models ({model, x, y}) drawn for the default state."""
    if "variants" in state:
        variants = state["variants"]
        chosen = None
        for key, variant in variants.items():
            if variant_matches(key, props):
                chosen = variant
                break
        if chosen is None:
            chosen = next(iter(variants.values()))
        if isinstance(chosen, list):
            chosen = chosen[0]
        return [chosen]
    parts = state.get("multipart", [])
    applied = [p["apply"] for p in parts if "when" not in p or when_matches(p["when"], props)]
    if not applied and parts:
        applied = [parts[0]["apply"]]
    return [a[0] if isinstance(a, list) else a for a in applied]


# ---------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------


class Textures:
    def __init__(self, assets: str):
        self.assets = assets
        self.cache: dict = {}

    def path(self, texture: str) -> str:
        ref = texture.split(":", 1)[-1]
        if ref.startswith("block/"):
            return os.path.join(self.assets, "blocks", ref[len("block/") :] + ".png")
        return os.path.join(self.assets, ref + ".png")

    def exists(self, texture: str) -> bool:
        return os.path.isfile(self.path(texture))

    def mean(self, texture: str, regions=None):
        """(alpha-weighted mean RGB, mean alpha 0..1) of the first square frame,
        or of the given (x0, y0, x1, y1) pixel regions."""
        cache_key = (texture, regions)
        if cache_key in self.cache:
            return self.cache[cache_key]
        path = self.path(texture)
        result = None
        if os.path.isfile(path):
            width, height, pixels = read_png(path)
            if regions is None:
                frame = pixels[: width * min(width, height)]  # animations are tall strips
            else:
                frame = [
                    pixels[y * width + x]
                    for x0, y0, x1, y1 in regions
                    for y in range(y0, min(y1, height))
                    for x in range(x0, min(x1, width))
                ]
            sr = sg = sb = sa = 0
            for r, g, b, a in frame:
                sr += r * a
                sg += g * a
                sb += b * a
                sa += a
            alpha = sa / (255 * len(frame)) if frame else 0.0
            rgb = (sr / sa, sg / sa, sb / sa) if sa else (0.0, 0.0, 0.0)
            result = (rgb, alpha)
        self.cache[cache_key] = result
        return result


def colormap_color(textures: Textures, which: str, temperature: float, downfall: float) -> int:
    """The client's colormap lookup (GrassColors/FoliageColors.getColor)."""
    width, height, pixels = read_png(os.path.join(textures.assets, "colormap", which + ".png"))
    t = min(max(temperature, 0.0), 1.0)
    d = min(max(downfall, 0.0), 1.0) * t
    x = int((1.0 - t) * 255.0)
    y = int((1.0 - d) * 255.0)
    r, g, b, _ = pixels[y * width + x]
    return (r << 16) | (g << 8) | b


def load_tints(path: str, textures: Textures) -> dict[str, int]:
    """Tint colour per block name, from minecraft-data's tints.json (plains / defaults)."""
    with open(path) as f:
        data = json.load(f)

    def biome_color(kind: str) -> int:
        entries = data[kind]["data"]
        for entry in entries:
            if PLAINS[0] in entry["keys"]:
                color = entry["color"]
                break
        else:
            color = data[kind].get("default", 0)
        if color == 0 and kind in ("grass", "foliage"):
            # 0 means "from the colormap by temperature and downfall".
            color = colormap_color(textures, kind, PLAINS[1], PLAINS[2])
        return color

    grass, foliage, water = biome_color("grass"), biome_color("foliage"), biome_color("water")
    tints: dict[str, int] = {}
    for name in GRASS_TINTED:
        tints[name] = grass
    for name in FOLIAGE_TINTED:
        tints[name] = foliage
    for name in WATER_TINTED:
        tints[name] = water
    for entry in data.get("constant", {}).get("data", []):
        for name in entry["keys"]:
            tints[name] = entry["color"]
    for entry in data.get("redstone", {}).get("data", []):
        if 0 in entry["keys"] or "0" in entry["keys"]:
            tints["redstone_wire"] = entry["color"]  # power 0
    log(f"tints: grass {grass:06x}, foliage {foliage:06x}, water {water:06x}")
    return tints


def log(message: str) -> None:
    print(message, file=sys.stderr)


def apply_tint(rgb, tint: int | None):
    if tint is None:
        return rgb
    t = ((tint >> 16) & 0xFF, (tint >> 8) & 0xFF, tint & 0xFF)
    return tuple(c * k / 255.0 for c, k in zip(rgb, t))


def tint_applies(name: str, face: dict | None) -> bool:
    if face is None or "tintindex" not in face:
        return False
    if name == "pink_petals":  # only the stems (tintindex 1) are tinted
        return face["tintindex"] != 0
    return True


# Blocks drawn by block-entity renderers: their models carry only a particle
# texture. These use the entity texture's faces seen from above instead, as
# (texture, pixel regions or None for the whole texture), or "particle" where the
# particle texture already is the colour seen (signs are their planks, ...).
DYES = (
    "white", "orange", "magenta", "light_blue", "yellow", "lime", "pink", "gray",
    "light_gray", "cyan", "purple", "blue", "brown", "green", "red", "black",
)
BED_TOP = ((6, 6, 22, 22), (6, 28, 22, 44))  # the head's and the foot's top faces
CHEST_LID = ((28, 0, 42, 14),)
HEAD_TOP = ((8, 0, 16, 8),)
HEADS = {
    "skeleton_skull": ("entity/skeleton/skeleton", HEAD_TOP),
    "wither_skeleton_skull": ("entity/skeleton/wither_skeleton", HEAD_TOP),
    "zombie_head": ("entity/zombie/zombie", HEAD_TOP),
    "creeper_head": ("entity/creeper/creeper", HEAD_TOP),
    "player_head": ("entity/player/wide/steve", HEAD_TOP),
    "piglin_head": ("entity/piglin/piglin", ((8, 0, 18, 8),)),
    "dragon_head": ("entity/enderdragon/dragon", None),  # all of it is near black
}
ENTITY_PARTICLE = {"conduit", "decorated_pot", "end_portal", "end_gateway"}


def entity_texture(name: str):
    """(texture, regions) for blocks drawn by block-entity renderers, "particle", or None."""
    if name.endswith("_bed"):
        return (f"minecraft:entity/bed/{name[: -len('_bed')]}", BED_TOP)
    if name == "chest":
        return ("minecraft:entity/chest/normal", CHEST_LID)
    if name == "trapped_chest":
        return ("minecraft:entity/chest/trapped", CHEST_LID)
    if name == "ender_chest":
        return ("minecraft:entity/chest/ender", CHEST_LID)
    for suffix in ("_wall_banner", "_banner"):
        if name.endswith(suffix) and name[: -len(suffix)] in DYES:
            # The cloth is banner_base tinted by the dye: the dye's wool is that colour.
            return (f"minecraft:block/{name[: -len(suffix)]}_wool", None)
    head = name.replace("_wall_", "_")
    if head in HEADS:
        texture, regions = HEADS[head]
        return ("minecraft:" + texture, regions)
    if name.endswith("_sign") or name.endswith("shulker_box") or name in ENTITY_PARTICLE:
        return "particle"
    return None


def hex_color(rgb) -> str:
    return "".join(f"{min(255, max(0, round(c))):02x}" for c in rgb)


def top_view(name: str, candidates, textures: Textures, tints) -> str | None:
    """What a 16x16 grid of columns sees from above: for each cell the topmost
    up face over it, looking through whole cubes of glass (a beacon's shell);
    the colour is the mean of those faces' texture colours (each tinted as the
    client tints it) weighted by cells and alpha. '-' when every face is seen
    through; None when no face covers a cell."""
    sums = [0.0, 0.0, 0.0]
    weight = 0.0
    covered = 0
    looked_through = 0
    for cz in range(16):
        for cx in range(16):
            px, pz = cx + 0.5, cz + 0.5
            for _, (x0, z0, x1, z1), face, cube, texture in candidates:
                if not (x0 <= px <= x1 and z0 <= pz <= z1):
                    continue
                rgb, alpha = textures.mean(texture)
                if cube and alpha < SEE_THROUGH_ALPHA:
                    looked_through += 1
                    continue
                covered += 1
                rgb = apply_tint(rgb, tints.get(name) if tint_applies(name, face) else None)
                for i in range(3):
                    sums[i] += rgb[i] * alpha
                weight += alpha
                break
    if covered == 0:
        return "-" if looked_through else None
    if weight == 0.0:
        return "-"
    return hex_color([c / weight for c in sums])


def block_color(name: str, props, state, models: Models, textures: Textures, tints, fallbacks):
    """Returns 'rrggbb' or '-'."""
    if name in INVISIBLE:
        return "-"

    texture = None
    regions = None
    face = None
    see_through_check = False  # full faces seen through (glass) become '-'
    entity = entity_texture(name)

    if name in FLUIDS:
        texture = "minecraft:block/" + FLUIDS[name]
        face = {"tintindex": 0}
        see_through_check = True
    elif isinstance(entity, tuple):
        texture, regions = entity
    else:
        candidates = []  # (height, footprint, face, cube, texture) of every up face
        particle = None
        keyed = None
        side = None
        for applied in default_models(state, props):
            chain = models.chain(applied["model"])
            if not chain:
                log(f"note: {name}: model {applied['model']} not in blocks_models.json")
            texmap = models.textures(chain)
            elements = models.elements(chain)
            for height, footprint, f, cube in up_faces(elements, applied.get("x", 0), applied.get("y", 0)):
                tex = resolve_ref(texmap, f.get("texture"))
                if tex is not None and textures.exists(tex):
                    candidates.append((height, footprint, f, cube, tex))
                elif tex is not None:
                    fallbacks.append((name, f"up face texture {tex} missing: face left out"))
            if keyed is None:
                for key in TOP_KEYS:
                    if key in texmap:
                        tex = resolve_ref(texmap, texmap[key])
                        if tex is not None:
                            f = next(
                                (fc for el in elements for fc in el.get("faces", {}).values()
                                 if fc.get("texture") == "#" + key and "tintindex" in fc),
                                None,
                            )
                            cube = not elements or any(is_cube(el) for el in elements)
                            keyed = (tex, f, cube)
                            break
            if side is None:
                f = any_face(elements)
                if f is not None:
                    tex = resolve_ref(texmap, f["texture"])
                    if tex is not None:
                        side = (tex, f)
            if particle is None and "particle" in texmap:
                particle = resolve_ref(texmap, texmap["particle"])
        candidates.sort(key=lambda c: c[0], reverse=True)
        if candidates:
            seen = top_view(name, candidates, textures, tints)
            if seen is not None:
                return seen
            # No up face covers a cell of the grid (all are slivers): the topmost one.
            _, _, face, _, texture = candidates[0]
        elif keyed is not None:
            texture, face, see_through_check = keyed
        elif side is not None:
            texture, face = side
        elif particle is not None and textures.exists(particle):
            texture = particle
            if entity != "particle":
                fallbacks.append((name, f"particle texture {particle}"))
        elif textures.exists("minecraft:block/" + name):
            texture = "minecraft:block/" + name
            fallbacks.append((name, f"texture named after the block {texture}"))
        else:
            fallbacks.append((name, "no texture: written as -"))
            return "-"

    if not textures.exists(texture):
        if textures.exists("minecraft:block/" + name):
            fallbacks.append((name, f"texture {texture} missing; used texture named after the block"))
            texture, regions = "minecraft:block/" + name, None
        else:
            fallbacks.append((name, f"texture {texture} missing: written as -"))
            return "-"

    rgb, alpha = textures.mean(texture, regions)
    if alpha == 0.0 or (see_through_check and alpha < SEE_THROUGH_ALPHA):
        return "-"
    tint = tints.get(name) if (name in FLUIDS or tint_applies(name, face)) else None
    return hex_color(apply_tint(rgb, tint))


HEADER = """\
# Top-down map colour of each block of Minecraft 1.20.1: name<TAB>rrggbb, or '-' for blocks seen through.
# Generated by world/map_colors/generate.sh from minecraft-assets 1.19.0 (textures of 1.20.2)
# and minecraft-data tints (plains biome / constant tints). Do not edit by hand.
"""


def find_blocks_json() -> str:
    pattern = os.path.expanduser(
        "~/.cargo/registry/src/*/valence_generated-0.2.0-alpha.1+mc.1.20.1/extracted/blocks.json"
    )
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit(f"generate.py: no {pattern}; fetch the crates (cargo fetch) or pass --blocks")
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", required=True, help="minecraft-assets data/1.20.2 directory")
    parser.add_argument("--tints", required=True, help="minecraft-data pc/1.20/tints.json")
    parser.add_argument("--blocks", help="valence_generated extracted/blocks.json (default: glob ~/.cargo)")
    parser.add_argument("--out", help="output file (default stdout)")
    args = parser.parse_args()

    blocks_path = args.blocks or find_blocks_json()
    with open(blocks_path) as f:
        blocks = json.load(f)["blocks"]
    with open(os.path.join(args.assets, "blocks_states.json")) as f:
        states = json.load(f)
    with open(os.path.join(args.assets, "blocks_models.json")) as f:
        models = Models(json.load(f))
    textures = Textures(args.assets)
    tints = load_tints(args.tints, textures)

    lines = []
    fallbacks: list[tuple[str, str]] = []
    for block in sorted(blocks, key=lambda b: b["name"]):
        name = block["name"]
        state = states.get(name)
        if state is None:
            if textures.exists("minecraft:block/" + name) and name not in INVISIBLE:
                fallbacks.append((name, "no blockstate; used texture named after the block"))
                rgb, _ = textures.mean("minecraft:block/" + name)
                color = hex_color(rgb)
            else:
                fallbacks.append((name, "no blockstate: written as -"))
                color = "-"
        else:
            props, default = seen_properties(block), default_properties(block)
            found: list[tuple[str, str]] = []
            color = block_color(name, props, state, models, textures, tints, found)
            if found and props != default:  # the upper half draws nothing (young pitcher crop)
                found = []
                color = block_color(name, default, state, models, textures, tints, found)
            fallbacks += found
        lines.append(f"{name}\t{color}\n")

    for name, what in fallbacks:
        log(f"fallback: {name}: {what}")
    none = sum(1 for line in lines if line.endswith("\t-\n"))
    log(f"{len(lines)} blocks, {none} shown as '-', {len(fallbacks)} fallbacks")

    text = HEADER + "".join(lines)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
