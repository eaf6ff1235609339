"""hts-realtime: a Socket.IO realtime gateway for a Korean home trading system."""

__version__ = "0.1.0"
