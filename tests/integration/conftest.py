"""Fixtures that run real node processes."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from tests.harness.process import ServerProcess
from vektra import Client
from vektra.v1 import vektra_pb2_grpc


@pytest.fixture
def client(node: ServerProcess) -> Iterator[Client]:
    assert node.address is not None
    with Client(node.address, timeout_s=60) as c:
        yield c


@pytest.fixture
def stub(node: ServerProcess) -> Iterator[vektra_pb2_grpc.VektraStub]:
    """The raw public API, for sending exactly the malformed bytes a test needs."""
    assert node.address is not None
    channel = grpc.insecure_channel(node.address)
    try:
        yield vektra_pb2_grpc.VektraStub(channel)
    finally:
        channel.close()
