"""The numbers the figures and tables show, from a sweep's CSV files
(experiments/README.md "The CSV files"): one row per workload x depth x
mechanism x cost model x engine, repetitions averaged.

  logical_exits    exits out of the workload's own level (depth + 1): the
                   exits its VMM (level depth) handles
  hw_exits         every hardware VM exit of the run (all levels)
  multiplication   hw_exits / logical_exits: hardware exits per logical exit
  cycles_per_exit  modeled cycles each logical exit adds, by difference with
                   `hello` (boot and output alike) at the same depth and
                   natively:  ((C_w,d - C_hello,d) - (C_w,0 - C_hello,0))
                              / (E_w,d - E_hello,d)
                   or, without hello in the sweep, (C_w,d - C_w,0) / E_w,d
  overhead         modeled cycles / the same workload's native cycles - 1
  overhead_wall    host seconds / native host seconds - 1 (the simulator's time)
  efficiency       the workload level's share of all instructions retired
                   (Popek-Goldberg's efficiency property, DESIGN.md §7)
"""
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["workload", "args", "depth", "mechanism", "cost_model", "engine"]
BASELINE_WORKLOAD = "hello"


def mechanism_label(options):
    return options if isinstance(options, str) and options else "default"


def load(sweep_dir):
    """results, levels, exits DataFrames of a sweep folder (successful runs only)."""
    d = Path(sweep_dir)
    read = lambda name: pd.read_csv(d / name, keep_default_na=False, na_values=[""], dtype={"args": str,
                                    "l1_options": str, "cost_model": str})
    results, levels, exits = read("results.csv"), read("levels.csv"), read("exits.csv")
    for df in (results, levels, exits):
        for c in ("args", "l1_options", "cost_model"):
            df[c] = df[c].fillna("")
        df["mechanism"] = df["l1_options"].map(mechanism_label)
    ok = set(results.loc[results["ok"] == 1, "run_id"])
    return (results[results["run_id"].isin(ok)].copy(), levels[levels["run_id"].isin(ok)].copy(),
            exits[exits["run_id"].isin(ok)].copy())


def _per_point(results):
    cols = {"cycles": "mean", "instructions": "mean", "vm_exits": "mean", "workload_exits": "mean",
            "workload_instructions": "mean", "wall_seconds": "mean", "run_seconds": "mean"}
    return results.groupby(KEYS, as_index=False).agg(cols)


def summary(results):
    """One row per point (KEYS), with the metrics of the module docstring."""
    p = _per_point(results)
    native = p[p["depth"] == 0].set_index(["workload", "args", "cost_model", "engine"])
    out = []
    for _, r in p.iterrows():
        key = (r["workload"], r["args"], r["cost_model"], r["engine"])
        base = native.loc[key] if key in native.index else None
        row = {k: r[k] for k in KEYS}
        row["logical_exits"] = r["workload_exits"] if r["depth"] > 0 else 0
        row["hw_exits"] = r["vm_exits"]
        row["multiplication"] = r["vm_exits"] / r["workload_exits"] if r["depth"] > 0 and r["workload_exits"] else np.nan
        row["cycles"] = r["cycles"]
        row["cycles_per_exit"] = _cycles_per_exit(p, r, base)
        row["overhead"] = r["cycles"] / base["cycles"] - 1 if base is not None else np.nan
        row["overhead_wall"] = r["wall_seconds"] / base["wall_seconds"] - 1 if base is not None else np.nan
        row["efficiency"] = r["workload_instructions"] / r["instructions"] if r["instructions"] else np.nan
        out.append(row)
    return pd.DataFrame(out).sort_values(["workload", "mechanism", "cost_model", "engine", "depth"],
                                         kind="stable").reset_index(drop=True)


def _find(p, workload, depth, like):
    m = p[(p["workload"] == workload) & (p["depth"] == depth) & (p["cost_model"] == like["cost_model"]) &
          (p["engine"] == like["engine"]) & ((p["mechanism"] == like["mechanism"]) | (depth == 0))]
    return m.iloc[0] if len(m) else None


def _cycles_per_exit(p, r, base):
    if r["depth"] == 0 or base is None or r["workload"] == BASELINE_WORKLOAD:
        return np.nan
    hello_d, hello_0 = _find(p, BASELINE_WORKLOAD, r["depth"], r), _find(p, BASELINE_WORKLOAD, 0, r)
    if hello_d is not None and hello_0 is not None:
        exits = r["workload_exits"] - hello_d["workload_exits"]
        extra = (r["cycles"] - hello_d["cycles"]) - (base["cycles"] - hello_0["cycles"])
    else:
        exits, extra = r["workload_exits"], r["cycles"] - base["cycles"]
    return extra / exits if exits > 0 else np.nan


def exits_by_level_reason(exits, reason_order):
    """hardware exits per (workload, depth, mechanism) x (level, reason), reasons in arch/ order."""
    e = exits.groupby(["workload", "depth", "mechanism", "cost_model", "engine", "level", "reason"], as_index=False)[
        "exits"].mean()
    e["reason_number"] = e["reason"].map(reason_order)
    return e.sort_values(["workload", "depth", "level", "reason_number"]).reset_index(drop=True)


def read_reference(path):
    ref = pd.read_csv(path, comment="#", keep_default_na=False, na_values=[])
    ref["mechanism"] = ref["mechanism"].map(mechanism_label)
    ref["value"] = ref["value"].astype(float)
    return ref
