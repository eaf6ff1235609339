"""Run a script written for Python's asyncio REPL (top-level ``await`` / ``async with``),
as the seed's example is: ``python -m clients.seed clients/seed/example.py``."""

from __future__ import annotations

import ast
import asyncio
import sys
from pathlib import Path
from types import CodeType
from typing import Any


def compile_toplevel_await(path: Path) -> CodeType:
    code: CodeType = compile(path.read_text(encoding="utf-8"), str(path), "exec",
                             flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    return code


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m clients.seed SCRIPT.py", file=sys.stderr)
        return 2
    code = compile_toplevel_await(Path(argv[0]))
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": argv[0]}
    result = eval(code, namespace)  # a coroutine when the script awaits at top level
    if asyncio.iscoroutine(result):
        try:
            asyncio.run(result)
        except KeyboardInterrupt:
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
