"""Scale-out over Redis: the bus, the event log, the outbox relay, the engine client."""
