"""The trainer's transport to a teacher server: one ZeroMQ DEALER socket, and where the node's server listens.

- :class:`ServerConnection`: numbered requests out, validated replies in; replies
  that break the protocol are counted (``malformed_replies``) and skipped, a reply
  of another protocol version is kept aside (``version_error``) for the client to
  give up on.
- :func:`free_loopback_address` and :func:`node_address`: the owner's address,
  shared with the node's other ranks under torch.distributed.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

import torch
import zmq
from habitat import logger

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.server import protocol


def free_loopback_address() -> str:
    """A tcp endpoint on 127.0.0.1 whose port was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


class ServerConnection:
    """One DEALER socket to a server: numbered requests out, validated replies in."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._context = zmq.Context.instance()
        self._socket: Optional[zmq.Socket] = None
        self._next_id = 0
        self.malformed_replies = 0
        self.version_error: Optional[str] = None  # set by a reply of another protocol version
        self.reconnect()

    def reconnect(self) -> None:
        """A fresh socket: replies to earlier requests are not received any more."""
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(self.address)

    def send(self, type_: str, **fields: Any) -> int:
        self._next_id += 1
        try:
            self._socket.send(protocol.encode(type_, self._next_id, **fields), zmq.NOBLOCK)
        except zmq.Again:  # high-water mark reached (server gone for long): the request is lost, like a timeout
            pass
        return self._next_id

    def receive(self, timeout_s: float = 0.0) -> list[protocol.Message]:
        """Every reply available now, waiting up to ``timeout_s`` for the first."""
        messages = []
        if not self._socket.poll(int(timeout_s * 1000)):
            return messages
        while self._socket.poll(0):
            frame = self._socket.recv()
            try:
                messages.append(protocol.decode_reply(frame))
            except protocol.ProtocolError as error:
                if error.code == protocol.VERSION_MISMATCH:
                    self.version_error = str(error)
                    continue
                self.malformed_replies += 1
                logger.warning(f"teacher client: ignoring a malformed reply: {error}")
        return messages

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None


def node_address(address: str, owner: bool) -> str:
    """The server address of this node: the owner's, shared with the node's other ranks under torch.distributed."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        if not address:
            raise ConfigError("no teacher server address: set llm4teach.teacher.server.address or server.spawn=true")
        return address
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, (socket.gethostname(), address if owner else ""))
    if address and not owner:
        return address  # a configured address: every rank already knows it
    found = [a for host, a in gathered if host == socket.gethostname() and a]
    if not found:
        raise ConfigError(
            "no rank on this node starts a teacher server (local rank 0 with server.spawn=true) and no "
            "llm4teach.teacher.server.address is set"
        )
    return found[0]
