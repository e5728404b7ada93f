"""LMDB key layouts of a storage node, and order-preserving value encodings.

    objects  coll(4) | token(8) | id(utf-8)               -> record (msgpack)
    docs     coll(4) | docno(8)                           -> [token, id, vector field mask]
    pidx     coll(4) | prop(2) | tag(1) | value | docno(8) -> b""
    log      seq(8)                                       -> change (msgpack)
    hints    target | 0 | collection | 0 | id             -> the full write (msgpack)
    meta     named keys, each owned by one module: node.catalog (node_id,
             coll_next, coll:*), node.records (docno:*, hlc), node.change_log (seq),
             node.cluster_store (cluster)

All integers are big-endian so byte order is numeric order: a token range of a
collection is one contiguous scan of `objects`, and a numeric range of an
indexed property is one contiguous scan of `pidx`. `docno` is a per-collection
number given to a live object; it is also the object's label in every HNSW
index of the collection, and is retired (never reused) when the object is
deleted.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

from vektra.common.filters import comparable
from vektra.common.ring import token_digests
from vektra.common.schema import PropertyType

__all__ = [
    "TAG_PRESENT",
    "TAG_VALUE",
    "coll_prefix",
    "doc_key",
    "docno_bytes",
    "encode_index_value",
    "log_key",
    "object_key",
    "object_keys",
    "pidx_prefix",
    "split_object_key",
]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_F64 = struct.Struct(">d")

# pidx tags: one "present" entry per (object, indexed property) serves $exists;
# "value" entries serve equality and ranges.
TAG_PRESENT = b"\x00"
TAG_VALUE = b"\x01"
DOCNO_BYTES = 8


def coll_prefix(coll_no: int) -> bytes:
    return _U32.pack(coll_no)


def object_key(coll_no: int, token: int, object_id: str) -> bytes:
    return _U32.pack(coll_no) + _U64.pack(token) + object_id.encode("utf-8")


def object_keys(coll_no: int, collection: str, ids: list[str]) -> list[bytes]:
    """`object_key` of each id, tokens hashed straight into their key bytes."""
    prefix = _U32.pack(coll_no)
    return [
        prefix + digest + object_id.encode("utf-8")
        for digest, object_id in zip(token_digests(collection, ids), ids, strict=True)
    ]


def split_object_key(key: bytes) -> tuple[int, int, str]:
    return _U32.unpack_from(key)[0], _U64.unpack_from(key, 4)[0], key[12:].decode("utf-8")


def token_bytes(token: int) -> bytes:
    return _U64.pack(token)


def doc_key(coll_no: int, docno: int) -> bytes:
    return _U32.pack(coll_no) + _U64.pack(docno)


def docno_bytes(docno: int) -> bytes:
    """The 8 bytes that end a `docs` or `pidx` key."""
    return _U64.pack(docno)


def docno_of(key: bytes) -> int:
    """The docno that ends a `docs` or `pidx` key."""
    return int(_U64.unpack_from(key, len(key) - DOCNO_BYTES)[0])


def log_key(seq: int) -> bytes:
    return _U64.pack(seq)


def seq_of(key: bytes) -> int:
    return int(_U64.unpack(key)[0])


def pidx_prefix(coll_no: int, prop_no: int, tag: bytes) -> bytes:
    return _U32.pack(coll_no) + _U16.pack(prop_no) + tag


def _ordered_int(v: int) -> bytes:
    return _U64.pack(v + (1 << 63))


def _ordered_float(v: float) -> bytes:
    # IEEE-754 bits, flipped so that unsigned byte order is numeric order.
    bits = _U64.unpack(_F64.pack(v + 0.0))[0]  # +0.0 folds -0.0 into 0.0
    bits = bits ^ 0xFFFF_FFFF_FFFF_FFFF if bits >> 63 else bits | (1 << 63)
    return _U64.pack(bits)


def encode_index_value(ptype: PropertyType, value: Any) -> bytes:
    """Encode a value in comparable form (see filters.comparable) for `pidx`.

    Numbers and datetimes are order-preserving fixed-width; keywords are their
    UTF-8 bytes (equality only: a key matches a value exactly when the docno is
    all that follows the value); text is indexed by a 16-byte hash (equality
    only, and exact because the candidates are checked)."""
    match ptype:
        case PropertyType.INT | PropertyType.DATETIME:
            return _ordered_int(int(value))
        case PropertyType.FLOAT:
            return _ordered_float(float(value))
        case PropertyType.BOOL:
            return b"\x01" if value else b"\x00"
        case PropertyType.KEYWORD | PropertyType.KEYWORD_ARRAY:
            return str(value).encode("utf-8")
        case PropertyType.TEXT:
            return hashlib.blake2b(str(value).encode("utf-8"), digest_size=16).digest()
    raise AssertionError(ptype)


def index_values(ptype: PropertyType, stored: Any) -> list[bytes]:
    """All `pidx` value encodings for one stored property value."""
    if ptype is PropertyType.KEYWORD_ARRAY:
        return [encode_index_value(ptype, v) for v in sorted(set(stored))]
    return [encode_index_value(ptype, comparable(ptype, stored))]


def float_successor_bytes(ptype: PropertyType, value: Any) -> bytes:
    """The smallest encoding strictly above `value` (for exclusive lower bounds)."""
    enc = encode_index_value(ptype, value)
    return (int.from_bytes(enc, "big") + 1).to_bytes(8, "big") if len(enc) == 8 else enc + b"\x00"
