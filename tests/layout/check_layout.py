#!/usr/bin/env python3
"""The import graph of DESIGN.md §2, checked: every top-level folder may
include (and, in its CMakeLists.txt, link) only the folders below it.

    arch/                                        nothing but itself
    common/                                      arch/
    runtime/, exit-tracer/                       arch/, common/
    l0/                                          arch/, common/, exit-tracer/
    l1-vmm/                                      arch/, common/, runtime/
    workloads/                                   arch/, common/, runtime/, l1-vmm/ (its ABI headers)

So l0 and exit-tracer never include each other both ways, l1-vmm never
reaches into workloads/ for its runtime, and common/ (compiled into host and
guest alike) depends on arch/ only. Quoted includes are resolved beside the
file, else from the repository root, the only include root; one that
resolves nowhere is an error too, since another include root could hide an
arrow. tests/, experiments/ and analysis/ sit on top and are not checked.

Usage: check_layout.py [REPO]   (exit status 1 and one line per violation)
       check_layout.py --self-test
"""
import os
import re
import sys
import tempfile

ALLOWED = {
    "arch": {"arch"},
    "common": {"arch", "common"},
    "runtime": {"arch", "common", "runtime"},
    "exit-tracer": {"arch", "common", "exit-tracer"},
    "l0": {"arch", "common", "exit-tracer", "l0"},
    "l1-vmm": {"arch", "common", "runtime", "l1-vmm"},
    "workloads": {"arch", "common", "runtime", "l1-vmm", "workloads"},
}
SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc", ".c", ".S", ".def", ".inc", ".ld")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^">]+)[">]')
# add_library(NAME ...) / add_executable(NAME ...), and the names a
# target_link_libraries(...) call mentions.
DEFINES_TARGET = re.compile(r"\badd_(?:library|executable)\s*\(\s*([A-Za-z0-9_.+-]+)")
LINKS = re.compile(r"\btarget_link_libraries\s*\(([^)]*)\)", re.S)


def folders(names):
    return ", ".join(n + "/" for n in sorted(names))


def top_folder(repo, path):
    rel = os.path.relpath(path, repo)
    return rel.split(os.sep)[0] if not rel.startswith("..") else None


def include_violations(repo):
    for folder, allowed in sorted(ALLOWED.items()):
        for root, _, files in os.walk(os.path.join(repo, folder)):
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(root, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        kind, target = m.groups()
                        # "x.h" next to the file, else from the repository root
                        # (the include root of every target).
                        beside = os.path.normpath(os.path.join(root, target))
                        resolved = beside if kind == '"' and os.path.exists(beside) else os.path.join(repo, target)
                        resolved = os.path.normpath(resolved)
                        where = f"{os.path.relpath(path, repo)}:{number}"
                        if kind == '"' and not os.path.exists(resolved):
                            # Another include root could hide an arrow (l1-vmm's
                            # "runtime/..." once meant workloads/runtime/).
                            yield (f'{where}: includes "{target}", which is neither beside it nor under the '
                                   f"repository root (the one include root)")
                            continue
                        to = top_folder(repo, resolved)
                        if to in ALLOWED and to not in allowed:
                            spelled = f'"{target}"' if kind == '"' else f"<{target}>"
                            yield (f"{where}: includes {spelled}: "
                                   f"{folder}/ may include only {folders(allowed)}")


def link_violations(repo):
    defined_in = {}
    cmake_files = []
    for folder in ALLOWED:
        for root, _, files in os.walk(os.path.join(repo, folder)):
            if "CMakeLists.txt" in files:
                path = os.path.join(root, "CMakeLists.txt")
                text = open(path, encoding="utf-8").read()
                cmake_files.append((folder, path, text))
                for target in DEFINES_TARGET.findall(text):
                    defined_in[target] = folder
    for folder, path, text in cmake_files:
        for m in LINKS.finditer(re.sub(r"#.*", "", text)):
            for word in m.group(1).split():
                to = defined_in.get(word)
                if to and to not in ALLOWED[folder]:
                    yield (f"{os.path.relpath(path, repo)}: links {word} (defined in {to}/): "
                           f"{folder}/ may link only targets of {folders(ALLOWED[folder])}")


def check(repo):
    return list(include_violations(repo)) + list(link_violations(repo))


def self_test():
    """Each kind of violation is found, and a clean tree passes."""
    # file: (its text, other files the tree holds, what the violation says or None)
    cases = {
        "exit-tracer/a.cpp": ('#include "l0/engine.h"\n', ["l0/engine.h"], "exit-tracer/ may include only"),
        "arch/x.h": ('#include "common/boot/kernel_image.h"\n', ["common/boot/kernel_image.h"],
                     "arch/ may include only"),
        "common/boot/y.cpp": ('  #  include "runtime/libc.h"\n', ["runtime/libc.h"], "common/ may include only"),
        "l1-vmm/z.cpp": ('#include "workloads/vmx-selftest/selftest.h"\n', ["workloads/vmx-selftest/selftest.h"],
                         "l1-vmm/ may include only"),
        "l1-vmm/w.cpp": ('#include "vmx-selftest/selftest.h"\n', ["workloads/vmx-selftest/selftest.h"],
                         "neither beside it nor under the repository root"),
        "runtime/r.cpp": ('#include "../l1-vmm/panic.h"\n', ["l1-vmm/panic.h"], "runtime/ may include only"),
        "l0/up.cpp": ('#include <l1-vmm/panic.h>\n', ["l1-vmm/panic.h"], "l0/ may include only"),
        "l1-vmm/ok.cpp": ('#include "panic.h"\n#include "l1-vmm/panic.h"\n#include <elf.h>\n', ["l1-vmm/panic.h"],
                          None),
        "exit-tracer/CMakeLists.txt": ("target_link_libraries(t PUBLIC nestbed_platform)\n",
                                       ["l0/CMakeLists.txt"], "exit-tracer/ may link only"),
        "l0/CMakeLists.txt": ("target_link_libraries(nestbed_platform PUBLIC nestbed_exit_tracer)\n",
                              ["exit-tracer/CMakeLists.txt"], None),
    }
    contents = {"l0/CMakeLists.txt": "add_library(nestbed_platform STATIC x.cpp)\n",
                "exit-tracer/CMakeLists.txt": "add_library(nestbed_exit_tracer STATIC x.cpp)\n"}
    failures = 0
    for path, (text, others, expected) in cases.items():
        with tempfile.TemporaryDirectory() as repo:
            for other in others:
                os.makedirs(os.path.dirname(os.path.join(repo, other)), exist_ok=True)
                with open(os.path.join(repo, other), "w") as f:
                    f.write(contents.get(other, ""))
            os.makedirs(os.path.dirname(os.path.join(repo, path)), exist_ok=True)
            with open(os.path.join(repo, path), "w") as f:
                f.write(text)
            found = check(repo)
            ok = (not found) if expected is None else (len(found) == 1 and expected in found[0])
            if not ok:
                failures += 1
                print(f"self-test: {path}: expected {expected or 'no violation'}, got {found}")
    print("self-test: " + ("ok" if not failures else f"{failures} failed"))
    return 1 if failures else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".."))
    violations = check(repo)
    for v in violations:
        print(v)
    print(f"layout: {len(violations)} violation(s)" if violations else "layout: the import graph follows DESIGN.md §2")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
