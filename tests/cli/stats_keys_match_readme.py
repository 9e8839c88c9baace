#!/usr/bin/env python3
"""The README's description of --stats lists the keys in the order nestbed
writes them (issue 11): runs `NESTBED run --stats - IMAGE`, takes the JSON
object's keys (nested ones too, in order), and compares them with the
backticked words of README.md's "### `--stats`" section that are keys.

    stats_keys_match_readme.py README NESTBED IMAGE [--module MODULE]
"""

import json
import re
import subprocess
import sys


def keys_in_order(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in out:
                out.append(k)
            keys_in_order(v, out)
    elif isinstance(value, list):
        for v in value:
            keys_in_order(v, out)
    return out


def main():
    readme, nestbed, image, *rest = sys.argv[1:]
    run = subprocess.run([nestbed, "run", "--stats", "-", *rest, image], capture_output=True, text=True)
    text = run.stdout[run.stdout.index("{\n"):]
    keys = keys_in_order(json.loads(text), [])
    section = open(readme).read().split("### `--stats`", 1)[1].split("\n## ", 1)[0]
    documented = []
    for word in re.findall(r"`([a-z_0-9]+)`", section):
        if word in keys and word not in documented:
            documented.append(word)
    if documented != keys:
        print("README order: " + ", ".join(documented))
        print("output order: " + ", ".join(keys))
        missing = [k for k in keys if k not in documented]
        if missing:
            print("not in the README: " + ", ".join(missing))
        return 1
    print("the README lists the " + str(len(keys)) + " keys in the output's order")
    return 0


if __name__ == "__main__":
    sys.exit(main())
