"""The protocol, machine-readable: OpenAPI 3.1 for HTTP, AsyncAPI 3 for the events.

Both documents are generated, not written by hand: request bodies and event
payloads from the marshmallow schemas in ``protocol/schemas.py``, the route
list from the running app's router, the request events from ``RequestCore``.
What only prose can say (summaries, answers, examples) lives in
``routes.py`` and ``events.py``; a route, request event or schema without an
entry there is marked ``x-undocumented`` and ``tests/test_spec.py`` fails.
Served at ``/api/openapi.json`` and ``/api/asyncapi.json``.
"""
