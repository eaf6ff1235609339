"""The two Engine.IO framings of an outbox message (``edge/outbox.py``).

A ``Message`` is one Socket.IO event of namespace ``/``; it is rendered at
most once per framing, so a broadcast builds its WebSocket frame once however
many connections receive it. ``EioPacket`` carries a packet the libraries
made themselves (OPEN, PING, CLOSE, Socket.IO CONNECT/ACK/DISCONNECT, and the
Admin UI's events) through the same outbox, so every byte a connection is
sent goes out in one order.
"""

from __future__ import annotations

from engineio import packet as eio_packet

from hts_realtime.edge.outbox import Message, websocket_frame


class EioPacket(Message):
    """A library Engine.IO packet (OPEN, PING, CLOSE, Socket.IO CONNECT/ACK...)."""

    __slots__ = ("pkt",)

    def __init__(self, pkt: eio_packet.Packet) -> None:
        super().__init__("", None, payload_json="")
        self.pkt = pkt

    @property
    def nbytes(self) -> int:
        data = self.pkt.data
        return 16 + (len(data) if isinstance(data, str | bytes) else 64)


class EngineIOWebSocketFraming:
    """Engine.IO over WebSocket: one text frame per packet (binary frames for binary)."""

    def render(self, msg: Message) -> bytes:
        if isinstance(msg, EioPacket):
            encoded = msg.pkt.encode()
            if isinstance(encoded, bytes):
                return websocket_frame(encoded, opcode=0x2)
            return websocket_frame(encoded.encode())
        return websocket_frame(("4" + msg.socketio_text()).encode())


class EngineIOPollingFraming:
    """Engine.IO over long-polling: packets the library encodes into the GET response."""

    def render(self, msg: Message) -> eio_packet.Packet:
        if isinstance(msg, EioPacket):
            return msg.pkt
        return eio_packet.Packet(eio_packet.MESSAGE, data=msg.socketio_text())


WEBSOCKET = EngineIOWebSocketFraming()
POLLING = EngineIOPollingFraming()
