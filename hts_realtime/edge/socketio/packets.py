"""The Socket.IO packets a client sends, as python-socketio decodes them for us.

python-socketio takes the packet class as its ``serializer`` (a documented
extension point: a ``Packet`` subclass with its own ``decode``). Ours marks
a reserved event name a client sent, so the library routes the packet to the
catch-all handler, which refuses it, instead of to the real handler:
python-socketio dispatches a client EVENT named ``connect`` or ``disconnect``
straight to the connect/disconnect handlers (the audit's second handshake).

It also decodes and encodes through ``protocol.strict_json`` (issue 20). A
CONNECT or EVENT whose JSON parses but is refused (a lone surrogate, ``NaN``, nesting past
the limit, an oversized number) is not dropped: its payload is replaced by an
``Undecodable`` marker (an EVENT becomes ``[Undecodable]``, its ack id kept), so
the handshake answers ``connect_error`` ``invalid_message`` and the event reaches
the catch-all, which answers ``invalid_message`` (ack and ``error``) under the
same bad-input budget as any other bad request.
"""

from __future__ import annotations

from typing import Any

from socketio import packet as sio_packet

from hts_realtime.protocol import strict_json
from hts_realtime.protocol.strict_json import JsonRefused, Undecodable

# Event names a client may never send: Socket.IO's own (socket.io-parser refuses
# them too) and our catch-all.
RESERVED_EVENTS = frozenset({
    "connect", "connect_error", "disconnect", "disconnecting", "newListener",
    "removeListener", "*",
})


class ReservedEvent(str):
    """A reserved event name a client sent.

    A ``str`` (it prints, slices and JSON-encodes as the name, so the Admin UI
    can report it), but equal only to itself: no handler table lookup, and no
    ``in reserved_events`` test in the library, ever matches it.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    __hash__ = object.__hash__


class _StrictJson:
    """``protocol.strict_json`` in the shape python-socketio calls (``Packet.json``)."""

    loads = staticmethod(strict_json.loads)
    dumps = staticmethod(strict_json.dumps)


class WirePacket(sio_packet.Packet):  # type: ignore[misc]
    """python-socketio's packet, with strict JSON, marking reserved event names and
    undecodable payloads on decode."""

    json = _StrictJson
    data: Any
    packet_type: int

    def decode(self, encoded_packet: str | bytes) -> int:
        try:
            attachments: int = super().decode(encoded_packet)
        except JsonRefused as exc:  # the type, namespace and ack id are already read
            if exc.reason == strict_json.NOT_JSON:  # not JSON at all: a bad packet, dropped
                raise
            if self.packet_type == sio_packet.CONNECT:
                self.data = Undecodable(exc.reason)
                return 0
            if self.packet_type == sio_packet.EVENT:
                self.data = [Undecodable(exc.reason)]
                return 0
            raise
        data = self.data
        if self.packet_type == sio_packet.EVENT and isinstance(data, list) and data \
                and isinstance(data[0], str) and data[0] in RESERVED_EVENTS:
            data[0] = ReservedEvent(data[0])
        return attachments


def namespace_of(text: str) -> str:
    """The namespace an encoded Socket.IO packet is for (``/`` unless it names one),
    read as python-socketio's ``Packet.decode`` reads it."""
    rest = text[1:]
    dash = rest.find("-")
    if dash > 0 and rest[:dash].isdigit():  # a binary packet's attachment count
        rest = rest[dash + 1:]
    if rest[:1] != "/":
        return "/"
    sep = rest.find(",")
    namespace = rest if sep == -1 else rest[:sep]
    query = namespace.find("?")
    return namespace if query == -1 else namespace[:query]
