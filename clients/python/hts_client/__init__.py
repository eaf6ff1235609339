"""hts-client: the Python SDK for hts-realtime.

``HttpClient`` has a method per HTTP route; ``Stream`` owns a Socket.IO
connection with resume (``last_seq``), dedupe, ``resync_required`` and
reconnection. See ``clients/python/README.md``.
"""

from hts_client.errors import HtsError, Unreachable
from hts_client.http import HttpClient
from hts_client.store import FileStore, MemoryStore, SeqStore
from hts_client.stream import PRIVATE_EVENTS, Event, Stream

__all__ = ["PRIVATE_EVENTS", "Event", "FileStore", "HtsError", "HttpClient", "MemoryStore",
           "SeqStore", "Stream", "Unreachable"]
__version__ = "0.1.0"
