"""The transport: Socket.IO and HTTP, kept thin over the domain."""
