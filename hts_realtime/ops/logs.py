"""Log output: human-readable lines by default, or one JSON object per line.

``HTS_LOG_FORMAT=json`` writes ``{"time","level","logger","message","user",
"sid","event","code"}`` per record (plus ``"exc"`` with a traceback, and an
HTTP request's ``"method","path","status","duration_ms","remote"``). The
structured fields come from a record's ``extra`` when a call site gives them,
otherwise from the house log prefix (``sid=... user=... event=... error=...``)
that every transport log line already starts with, so call sites stay plain
%-style logging.

Both formats pass every line through ``redact``: a JWT or a ``password=``
value never reaches the output, even if a careless message carried one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

FIELDS = ("user", "sid", "event", "code")
# an HTTP request's access-log line carries these too (edge/http/access_log.py)
REQUEST_FIELDS = ("method", "path", "status", "duration_ms", "remote")
# the house prefix: `sid=abc user=1 event=subscribe error=invalid_topic`
_PREFIX = re.compile(r"\b(sid|user|event|code|error)=([^\s,;()]+)")
_JWT = re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
_SECRET_KV = re.compile(r"((?:password|passwd|token|secret)['\"]?\s*[=:]\s*['\"]?)[^\s'\",}&]+",
                        re.IGNORECASE)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def redact(text: str) -> str:
    text = _JWT.sub("[redacted-token]", text)
    return _SECRET_KV.sub(r"\1[redacted]", text)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage())
        found = {("code" if k == "error" else k): v for k, v in _PREFIX.findall(message)}
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            entry[name] = redact(str(value)) if value is not None else found.get(name)
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str, fmt: str) -> None:
    """Install the one handler (stderr) on the root logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
