"""The harness's own look at the cluster, straight from the coordinator and
the nodes (no router): the published map, a node's NodeInfo, every record a
node holds.

Node calls carry the headers of the map they were made by, as every internal
call must (a node of a cluster refuses callers without its cluster id). The
caller id is "harness", so failpoints set for a router or a node never catch
the harness's own calls.
"""

from __future__ import annotations

import grpc

from tests.harness.validation import NodeReport, Record
from vektra.common.channels import NodeChannels
from vektra.common.hlc import Version
from vektra.common.membership import ClusterMap
from vektra.common.pb_cluster import map_from_pb
from vektra.v1 import coordinator_pb2 as cpb
from vektra.v1 import coordinator_pb2_grpc, node_pb2_grpc
from vektra.v1 import node_pb2 as npb

__all__ = ["CALLER", "Probe", "report_of"]

CALLER = "harness"

# As the routers' channels: a process restarted on its address is found again
# within 2 s (gRPC's default backoff grows to minutes, which would stall a
# validate() after a long outage), and a large scan batch fits.
_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
]


def report_of(info: npb.NodeInfoResponse) -> NodeReport:
    return NodeReport(
        node_id=info.node_id,
        epoch=info.epoch,
        cluster_id=info.cluster_id,
        incarnations={c.name: c.incarnation for c in info.collections},
        hints={h.target: h.hints for h in info.hints},
    )


class Probe:
    """Blocking calls on cached channels (one per address); `close()` them."""

    def __init__(self, timeout_s: float = 10.0, scan_timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self.scan_timeout_s = scan_timeout_s
        self._headers = NodeChannels(CALLER)  # only for its `metadata`
        self._channels: dict[str, grpc.Channel] = {}

    def _channel(self, address: str) -> grpc.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.insecure_channel(address, _OPTIONS)
        return channel

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()

    def get_map(self, coordinator: str) -> ClusterMap:
        stub = coordinator_pb2_grpc.CoordinatorStub(self._channel(coordinator))
        return map_from_pb(stub.GetMap(cpb.GetMapRequest(), timeout=self.timeout_s))

    def node_info(self, address: str, by: ClusterMap) -> npb.NodeInfoResponse:
        stub = node_pb2_grpc.NodeStub(self._channel(address))
        md = self._headers.metadata(by.epoch, by.cluster_id)
        reply: npb.NodeInfoResponse = stub.NodeInfo(
            npb.NodeInfoRequest(), timeout=self.timeout_s, metadata=md
        )
        return reply

    def records(self, address: str, by: ClusterMap, collection: str) -> dict[str, Record]:
        """Every record (live and tombstone) of `collection` on the node: one
        ScanRange over the whole ring, without vectors."""
        stub = node_pb2_grpc.NodeStub(self._channel(address))
        md = self._headers.metadata(by.epoch, by.cluster_id)
        request = npb.ScanRangeRequest(
            collection=collection, token_start=0, token_end=0, include_vectors=False
        )
        out: dict[str, Record] = {}
        for batch in stub.ScanRange(request, timeout=self.scan_timeout_s, metadata=md):
            for o in batch.objects:
                v = o.version
                out[o.id] = Record(Version(v.physical_ms, v.logical, v.writer), o.deleted)
        return out
