"""Benchmarks for hts_realtime, each against a Node socket.io peer where one applies.

Run with ``python -m bench [NAME ...]`` (or ``make bench``); see ``bench/README.md``.
"""
