"""setuptools entry point (metadata in setup.cfg).

``build_py`` refuses to build a package that would serve a broken dashboard:
every file the browser loads must be under ``hts_realtime/static`` (see
``hts_realtime/static/vendor/README.md``).
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

STATIC = Path(__file__).parent / "hts_realtime" / "static"
REQUIRED = ("index.html", "vendor/socket.io.min.js", "vendor/socket.io.LICENSE")


class BuildPy(build_py):
    def run(self) -> None:
        missing = [name for name in REQUIRED if not (STATIC / name).is_file()]
        if missing:
            raise SystemExit(f"hts_realtime/static is incomplete ({', '.join(missing)} missing): "
                             "run `make vendor` (needs npm) and build again")
        super().run()


setup(cmdclass={"build_py": BuildPy})
