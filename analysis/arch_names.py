"""Exit-reason names and numbers from the generated arch JSON
(build/arch/nestbed_arch.json, written from arch/'s .def tables by
arch/gen/nestbed_arch_json.cpp): analysis/ keeps no table of its own."""
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "build" / "arch" / "nestbed_arch.json"


def find_arch_json(explicit=None):
    for candidate in (explicit, os.environ.get("NESTBED_ARCH_JSON"), DEFAULT):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit("report: the arch JSON (build/arch/nestbed_arch.json) is missing: build it with "
                     "`cmake --build build --target nestbed_arch_json`, or pass --arch-json FILE")


def exit_reasons(path):
    """{name: number} of every basic exit reason."""
    data = json.loads(Path(path).read_text())
    return {r["name"]: r["number"] for r in data["exit_reasons"]}
