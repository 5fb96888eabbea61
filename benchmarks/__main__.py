"""python -m benchmarks: edgeinfer vs onnxruntime (and other installed engines) side by side.

    python -m benchmarks                          # all models, 1 and 2 threads (~10-15 min on 2 cores)
    python -m benchmarks --quick                  # small models, short timings: a smoke run
    python -m benchmarks --models resnet50,bert_tiny --threads 1 --min-time 5
    python -m benchmarks --profile --models mobilenet_v2   # per-op-type times of both engines

Writes OUT/results.json, OUT/ratio.png and prints a markdown table. See benchmarks/README.md.
"""
import argparse
import gc
import os
import platform
import sys
import tempfile
import time

from . import engines as E
from . import models, peak, report, runner

DEFAULT_ENGINES = ["edgeinfer", "onnxruntime", "torch", "openvino"]
PROFILE_NOTE = ("profiled runs; each engine's op types after its own fusions, Fused<Op> counted as <Op>; "
                "raw names in the JSON")
PRIMARY = ["edgeinfer", "onnxruntime"]  # timed interleaved; the others alone, after them


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=None,
                   help=f"comma-separated, or 'all' (default; --quick: {','.join(models.SMALL_MODELS)}). "
                        f"Known: {', '.join(models.MODELS)}")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--engines", default="auto",
                   help="comma-separated engines (edgeinfer, onnxruntime, torch, openvino, litert, ncnn); "
                        "'auto' (default): edgeinfer, onnxruntime and every other one that is importable")
    p.add_argument("--min-time", type=float, default=None, help="seconds of timed runs per engine (default 3)")
    p.add_argument("--min-runs", type=int, default=None, help="at least this many timed runs (default 10)")
    p.add_argument("--max-runs", type=int, default=None, help="at most this many timed runs (default 300)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up runs per engine (default 3)")
    p.add_argument("--block-time", type=float, default=0.15, help="seconds per interleaved block (default 0.15)")
    p.add_argument("--settle", type=float, default=0.1,
                   help="seconds of runs discarded after each engine switch (default 0.1; at least one run)")
    p.add_argument("--keep-switch-runs", action="store_true",
                   help="keep the runs of the --settle time after each engine switch (default: timed apart, "
                        "not in the stats: other engines' spinning threads slow them)")
    p.add_argument("--ort-no-spin", action="store_true",
                   help="set onnxruntime's session.intra_op.allow_spinning=0 (default: its default, spinning)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--profile", action="store_true",
                   help="also print, per model, the top op types by time in edgeinfer and onnxruntime")
    p.add_argument("--profile-runs", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="small models and short timings (a smoke run)")
    p.add_argument("--out", default=os.path.join("build", "bench-results"),
                   help="output folder (default build/bench-results, which git ignores)")
    p.add_argument("--cache-dir", default=None,
                   help="model cache (default $EDGEINFER_BENCH_CACHE or ~/.cache/edgeinfer-bench)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    q = a.quick
    a.min_time = a.min_time if a.min_time is not None else (0.2 if q else 3.0)
    a.min_runs = a.min_runs if a.min_runs is not None else (3 if q else 10)
    a.max_runs = a.max_runs if a.max_runs is not None else (10 if q else 300)
    a.warmup = a.warmup if a.warmup is not None else (1 if q else 3)
    a.mem_runs = 1 if q else 3
    if a.models in (None, "") and q:
        a.models = ",".join(models.SMALL_MODELS)
    names = list(models.MODELS) if a.models in (None, "", "all") else [m.strip() for m in a.models.split(",")]
    bad = [m for m in names if m not in models.MODELS]
    if bad:
        p.error(f"unknown model(s) {', '.join(bad)}; known: {', '.join(models.MODELS)}")
    a.model_list = names
    try:
        a.thread_list = [int(t) for t in a.threads.split(",") if t.strip()]
    except ValueError:
        p.error("--threads takes comma-separated integers")
    if not a.thread_list or min(a.thread_list) < 1:
        p.error("--threads: counts must be >= 1")
    return a


def pick_engines(spec):
    """(engines to run, {name: why skipped})."""
    wanted = DEFAULT_ENGINES + ["litert", "ncnn"] if spec == "auto" else [e.strip() for e in spec.split(",")]
    use, skipped = [], {}
    for n in wanted:
        if n not in E.ALL:
            raise SystemExit(f"unknown engine {n!r}; known: {', '.join(E.ALL)}")
        ok, why = E.ALL[n].available()
        if ok:
            use.append(E.ALL[n])
        else:
            skipped[n] = why
    for n in ("edgeinfer", "onnxruntime"):
        if spec == "auto" and n in skipped:
            raise SystemExit(f"cannot run: {skipped[n]}")
    return use, skipped


def run_config(args, engs, name, path, meta, threads, feed, log):
    """Times one model at one thread count. Returns (engines' results, profile or None)."""
    out, runners = {}, {}
    pair = [e for e in engs if e.name in PRIMARY]
    order = (pair if threads % 2 else pair[::-1]) + [e for e in engs if e.name not in PRIMARY]
    # (the pair's creation order alternates with the thread count; the others come last)
    for eng in order:
        try:
            run, ms = runner.create_timed(eng, path, meta, threads)
            outputs = run(feed)
        except Exception as e:  # an engine that cannot run a model is reported, not fatal
            out[eng.name] = {"error": f"{type(e).__name__}: {e}"}
            log(f"{name} @{threads}: {eng.name} failed: {type(e).__name__}: {str(e)[:200]}")
            continue
        runners[eng.name] = run
        out[eng.name] = {"create_ms": ms if eng.name != "torch" else None, "_first_output": outputs[0]}
    ref = out.get("onnxruntime", {}).get("_first_output")
    for n, d in out.items():
        y = d.pop("_first_output", None)
        if y is not None and ref is not None and n != "onnxruntime":
            d["max_rel_diff_vs_ort"] = runner.rel_diff(y, ref)
    # edgeinfer and onnxruntime interleaved; every other engine after them, alone: PyTorch's
    # OpenMP threads spin after each run and would slow whichever engine came next.
    pair = [n for n in PRIMARY if n in runners]
    groups = [pair] + [[e.name] for e in engs if e.name in runners and e.name not in PRIMARY]
    timed = {}
    for group in groups:
        if not group:
            continue
        try:
            timed.update(runner.interleave({n: runners[n] for n in group}, feed, min_time=args.min_time,
                                           min_runs=args.min_runs, max_runs=args.max_runs, warmup=args.warmup,
                                           block_time=args.block_time, discard_switch=not args.keep_switch_runs,
                                           settle=args.settle,
                                           max_total=max(60.0, 8 * args.min_time * len(group))))
        except Exception as e:  # a run that fails after the first one: reported, not fatal
            for n in group:
                out[n]["error"] = f"during timing: {type(e).__name__}: {e}"
            log(f"{name} @{threads}: timing {'/'.join(group)} failed: {type(e).__name__}: {str(e)[:200]}")
    for n, t in timed.items():
        samples = t["samples_ns"] + (t["switch_ns"] if args.keep_switch_runs else [])
        out[n].update(runner.stats_ms(samples))
        sw = runner.stats_ms(t["switch_ns"])
        out[n]["after_switch_median_ms"] = sw.get("median_ms")
        out[n]["after_switch_runs"] = sw.get("runs", 0)
    out = {e.name: out[e.name] for e in engs if e.name in out}
    prof = None
    if args.profile and "edgeinfer" in runners and threads == args.thread_list[0]:
        try:
            prof = {"edgeinfer": runner.profile_edgeinfer(runners["edgeinfer"], feed, args.profile_runs)}
            if "onnxruntime" in runners:
                with tempfile.TemporaryDirectory() as td:
                    prof["onnxruntime"] = runner.profile_onnxruntime(path, meta, threads, feed, args.profile_runs,
                                                                     td)
        except Exception as e:
            log(f"{name} @{threads}: profile failed: {type(e).__name__}: {str(e)[:200]}")
            prof = None
    runners.clear()
    gc.collect()
    return out, prof


def _family(op):
    """The ONNX op type a fused kernel computes, so the engines' rows line up: FusedConv,
    FusedGemm, FusedMatMul (either engine's) count as Conv, Gemm, MatMul."""
    return op[5:] if op.startswith("Fused") and len(op) > 5 else op


def _by_family(times):
    out = {}
    for op, ms in (times or {}).items():
        out[_family(op)] = out.get(_family(op), 0.0) + ms
    return out


def print_profile(name, threads, prof, top=8):
    ei, ort = prof.get("edgeinfer"), _by_family(prof.get("onnxruntime"))
    lines = [f"\n### {name}, {threads} thread(s): top op types (ms per run)"]
    if ei is None:
        lines.append("(this edgeinfer has no InferenceSession.profile; onnxruntime only)")
    else:
        ei = _by_family(ei)
    key = ei if ei else ort
    tot_ei, tot_ort = sum((ei or {}).values()), sum(ort.values())
    lines.append(f"per run, summed over nodes: edgeinfer {report._f(ei and tot_ei, '{:.3f}')} ms, "
                 f"onnxruntime {tot_ort:.3f} ms ({PROFILE_NOTE})")
    dense = ("Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN", "Attention")
    d_ei, d_ort = sum((ei or {}).get(k, 0.0) for k in dense), sum(ort.get(k, 0.0) for k in dense)
    lines.append(f"dense products ({'/'.join(dense)}, which the engines fuse differently): "
                 f"edgeinfer {report._f(ei and d_ei, '{:.3f}')} ms, onnxruntime {d_ort:.3f} ms")
    lines.append("| op type | edgeinfer ms | ei % | onnxruntime ms | ort % |")
    lines.append("|---|---|---|---|---|")
    for op in sorted(key, key=key.get, reverse=True)[:top]:
        e, o = (ei or {}).get(op), ort.get(op)
        lines.append(f"| {op} | {report._f(e, '{:.3f}')} | {report._f(e and 100 * e / tot_ei, '{:.0f}')} "
                     f"| {report._f(o, '{:.3f}')} | {report._f(o and 100 * o / tot_ort, '{:.0f}')} |")
    others = sorted(set(ort) - set(key), key=ort.get, reverse=True)[:4]
    if others:
        lines.append("op types only onnxruntime reports (its own fusions, layout changes): "
                     + ", ".join(f"{op} {ort[op]:.3f}" for op in others))
    print("\n".join(lines))


def _loadavg():
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):
        return None


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    E.OnnxRuntime.allow_spinning = False if args.ort_no_spin else None
    engs, skipped = pick_engines(args.engines)
    os.makedirs(args.out, exist_ok=True)
    t_start = time.time()
    mem_engines = [] if args.no_memory else [e for e in engs if e.in_memory_probe]
    total = len(args.model_list) * (1 + len(args.thread_list) + len(mem_engines)) + 1
    prog = report.Progress(total, enabled=not args.no_progress)
    prog.step("measuring FP32 peak")
    load_start = _loadavg()
    cpu = peak.cpu_info()
    pk = peak.measure(quick=args.quick)
    prog.advance()
    result = {
        "schema": 1,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
        "machine": {"cpu_model": cpu["model"], "cores": cpu["cores"], "arch": cpu["machine"], "flags": cpu["flags"],
                    "python": platform.python_version(), "os": platform.platform(),
                    "peak_gflops_1t": pk["gflops"], "peak_method": pk["method"], "loadavg_start": load_start},
        "engines": {e.name: e.info() for e in engs},
        "skipped_engines": skipped,
        "settings": {"threads": args.thread_list, "min_time": args.min_time, "min_runs": args.min_runs,
                     "max_runs": args.max_runs, "warmup": args.warmup, "block_time": args.block_time, "settle": args.settle,
                     "discard_switch": not args.keep_switch_runs, "ort_allow_spinning": not args.ort_no_spin,
                     "mem_threads": max(args.thread_list),
                     "mem_runs": args.mem_runs, "batch": 1, "quick": args.quick,
                     "generator_version": models.GENERATOR_VERSION, "cache": models.cache_dir(args.cache_dir),
                     "flops_rule": "2 x MACs of Conv, ConvTranspose, Gemm, MatMul, LSTM/GRU/RNN gates, Attention"},
        "results": [],
        "profiles": [],
    }
    for name in args.model_list:
        prog.step(f"{name}: model")
        try:
            path, meta = models.get(name, cache=args.cache_dir, log=prog.write)
        except Exception as e:
            prog.write(f"{name}: skipped: {e}")
            result["results"] += [{"model": name, "threads": t, "error": str(e), "engines": {}, "gflop": None}
                                  for t in args.thread_list]
            prog.n += len(args.thread_list) + len(mem_engines)
            prog.advance()
            continue
        prog.advance()
        feed = models.make_feed(meta["inputs"])
        rows = []
        for t in args.thread_list:
            prog.step(f"{name} @{t} thread(s)")
            res, prof = run_config(args, engs, name, path, meta, t, feed, prog.write)
            row = {"model": name, "description": meta["description"], "threads": t, "gflop": meta["flops"] / 1e9,
                   "engines": res}
            for n, d in res.items():
                if d.get("median_ms"):
                    d["gflops"] = meta["flops"] / (d["median_ms"] / 1e3) / 1e9
                    d["peak_share"] = d["gflops"] / (pk["gflops"] * t) if pk["gflops"] else None
            ort_med = res.get("onnxruntime", {}).get("median_ms")
            for n, d in res.items():
                if n != "onnxruntime" and ort_med and d.get("median_ms"):
                    key = "ratio_ei_ort" if n == "edgeinfer" else f"ratio_{n}_ort"
                    row[key] = d["median_ms"] / ort_med
            errs = [f"{n}: {d['error']}" for n, d in res.items() if "error" in d]
            if errs:
                row["error"] = "; ".join(errs)
            rows.append(row)
            if prof:
                result["profiles"].append({"model": name, "threads": t, **prof})
            prog.advance()
        for eng in mem_engines:
            prog.step(f"{name}: memory, {eng.name}")
            mt = max(args.thread_list)
            m = runner.memory_probe(eng.name, path, meta, mt, runs=args.mem_runs)
            for row in rows:
                if eng.name in row["engines"] and "error" not in row["engines"][eng.name]:
                    row["engines"][eng.name]["peak_mem_mb"] = m.get("peak_mb")
                    if "error" in m:
                        row["engines"][eng.name]["peak_mem_error"] = m["error"]
            prog.advance()
        result["results"] += rows
    prog.close()
    result["duration_s"] = time.time() - t_start
    result["machine"]["loadavg_end"] = _loadavg()
    json_path = os.path.join(args.out, "results.json")
    report.write_json(result, json_path)
    png_path = os.path.join(args.out, "ratio.png")
    why = report.chart(result, png_path)
    print(report.header(result))
    print()
    print(report.table(result))
    print()
    print(report.footer(result))
    for p in result["profiles"]:
        print_profile(p["model"], p["threads"], p)
    if args.profile and not result["profiles"]:
        print("\n(--profile: no profiles were taken)")
    print(f"\nwrote {json_path}" + (f", {png_path}" if why is None else f" (no chart: {why})")
          + f" in {result['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
