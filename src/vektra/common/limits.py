"""Request limits, enforced before anything is written.

One frozen value shared by the node and the router so both reject the same
requests with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    max_id_bytes: int = 256
    max_batch_objects: int = 1_000
    max_object_bytes: int = 1 << 20  # properties + vectors of one object
    max_batch_bytes: int = 32 << 20  # must stay below max_message_bytes
    max_message_bytes: int = 64 << 20  # gRPC send/receive limit
    max_keyword_bytes: int = 256
    max_text_bytes: int = 64 << 10
    max_array_items: int = 256
    max_k: int = 10_000
    max_ef: int = 10_000
    max_query_limit: int = 10_000
    # offset + limit of a filter query: each node answers with its first
    # offset + limit objects and the router pages their union.
    max_query_window: int = 100_000
    max_search_batch_rows: int = 1_000
    max_filter_bytes: int = 1 << 20
