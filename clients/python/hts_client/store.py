"""Where a ``Stream`` keeps ``last_seq``: in memory, in a file, or anywhere else
that has ``get``/``set``/``clear``. Keep it across restarts (``FileStore``) and a
restarted bot resumes where it stopped."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol


class SeqStore(Protocol):
    def get(self) -> int | None: ...
    def set(self, seq: int) -> None: ...
    def clear(self) -> None: ...


class MemoryStore:
    def __init__(self, seq: int | None = None) -> None:
        self._seq = seq

    def get(self) -> int | None:
        return self._seq

    def set(self, seq: int) -> None:
        self._seq = seq

    def clear(self) -> None:
        self._seq = None


class FileStore:
    """``last_seq`` in a small text file, replaced atomically on every change."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def get(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def set(self, seq: int) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(f"{seq}\n")
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
