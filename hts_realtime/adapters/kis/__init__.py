"""한국투자증권 (KIS) Open API behind the market-source port: one broker WebSocket
session (and a rate-bounded REST client) shared by every client of the server.

``codec`` parses and builds the wire (pure); ``budget`` maps client demand onto
the session's registrations (pure); ``session`` owns the connection;
``rest`` the snapshots; ``source`` turns what arrives into quotes, books and
market states. The protocol details we rely on, with where they come from,
are in the README ("Real quotes: the KIS feed").
"""
