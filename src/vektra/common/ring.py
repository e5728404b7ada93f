"""Tokens: where a key sits on the consistent-hash ring.

token(collection, id) is a 64-bit hash of ``collection/id``. The same function
is the ring's hash (uhashring's `hash_fn`), so the token a node stores in its
LMDB keys is exactly the ring position routers route by, and a token range is
one contiguous scan on a node.
"""

from __future__ import annotations

import hashlib

__all__ = ["TOKEN_BITS", "hash64", "token"]

TOKEN_BITS = 64


def hash64(key: str) -> int:
    """A 64-bit position for any string key (ring points and object keys alike)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")


def token(collection: str, object_id: str) -> int:
    return hash64(f"{collection}/{object_id}")
