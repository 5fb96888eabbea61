"""Peak memory of one engine on one model, run in a fresh process by the suite:

    python -m benchmarks.memprobe ENGINE MODEL.onnx META.json THREADS RUNS

Prints one JSON line: the resident set after the imports and the inputs (baseline), its
high-water mark after creating the session and running it RUNS times (VmHWM from
/proc/self/status, reset to the baseline through /proc/self/clear_refs where the kernel
allows, else ru_maxrss), and their difference, which is what is reported.
"""
import json
import sys


def _status_kb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _hwm_kb():
    v = _status_kb("VmHWM")
    if v is None:
        import resource

        v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return v


def main(argv):
    engine_name, path, meta_path, threads, runs = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    from . import engines, models

    with open(meta_path) as f:
        meta = json.load(f)
    eng = engines.ALL[engine_name]
    ok, why = eng.available()
    if not ok:
        print(json.dumps({"error": why}))
        return 0
    eng.info()  # imports the engine's module
    feed = models.make_feed(meta["inputs"])
    base = _status_kb("VmRSS") or _hwm_kb()
    try:  # reset VmHWM to the current RSS (Linux >= 4.0), so import transients do not count
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    run = eng.create(path, meta, threads)
    for _ in range(runs):
        run(feed)
    hwm = _hwm_kb()
    print(json.dumps({"baseline_kb": base, "hwm_kb": hwm, "peak_mb": max(0, hwm - base) / 1024.0,
                      "method": "VmHWM - VmRSS after imports" if _status_kb("VmHWM") else "ru_maxrss - baseline"}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
