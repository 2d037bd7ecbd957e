"""Object and receptacle handles -> names the LLM reads (``013_apple_:0000`` -> ``apple``).

Owns the one rule set: drop the instance suffix (``:0000``), file extensions,
dataset prefixes (YCB's ``013_``, ReplicaCAD's ``frl_apartment_``) and tokens
with digits (``Tbl1``), and join the remaining words. A handle that leaves no
word gets a stable fallback (``object 1a2b``, from a checksum of the handle),
never an error.
"""

from __future__ import annotations

import re
import zlib

_SUFFIX = re.compile(r"(:\d+|\.object_config\.json|\.glb|\.urdf)+$", re.IGNORECASE)
_TOKEN = re.compile(r"[^a-z0-9]+")
# Dataset vocabulary that says nothing about what the object is.
_NOISE = frozenset({"frl", "apartment", "receptacle", "aabb", "mesh", "ycb", "obj", "object", "urdf", "glb", "rigid"})


def fallback_name(handle: str) -> str:
    """A stable name for a handle with no readable word."""
    return f"object {zlib.crc32(handle.encode('utf-8')) & 0xFFFF:04x}"


def readable_name(handle: str) -> str:
    """``013_apple_:0000`` -> ``apple``; ``frl_apartment_kitchen_counter_:0000`` -> ``kitchen counter``."""
    base = _SUFFIX.sub("", handle.strip().rsplit("/", 1)[-1])
    words = [w for w in _TOKEN.split(base.lower()) if w and w not in _NOISE and w.isalpha()]
    return " ".join(words) if words else fallback_name(handle)


def unique_names(handles: list[str]) -> dict[str, str]:
    """Readable names, made unique per scene: equal names get ``2``, ``3``... in sorted-handle order."""
    names = {h: readable_name(h) for h in handles}
    taken: dict[str, int] = {}
    unique = {}
    for handle in sorted(handles):
        name = names[handle]
        taken[name] = taken.get(name, 0) + 1
        unique[handle] = name if taken[name] == 1 else f"{name} {taken[name]}"
    return unique
