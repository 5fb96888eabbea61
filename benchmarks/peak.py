"""This machine's single-thread FP32 peak, measured, and what the CPU is.

peak.c is compiled at run time with the system C compiler (-O3 plus -mavx512f, or -mavx2
-mfma, or nothing on aarch64 where NEON is baseline), once per ISA the CPU reports, and the
best figure is kept: an unrolled loop of independent FMAs, which is what a GEMM kernel can
at best reach. Without a compiler it falls back to a large NumPy sgemm (OpenBLAS) on one
thread, which reads a little lower; the method used is part of the result.
"""
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_info():
    """{'model', 'cores', 'flags' (the ISA flags that matter here), 'machine'}."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        m = re.search(r"^(model name|Model|Hardware)\s*:\s*(.+)$", text, re.M)
        if m:
            model = m.group(2).strip()
        m = re.search(r"^(flags|Features)\s*:\s*(.+)$", text, re.M)
        if m:
            flags = set(m.group(2).split())
    except OSError:
        pass
    interesting = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                   "avx512_bf16", "amx_tile", "neon", "asimd", "asimddp", "fphp", "sve", "i8mm", "bf16"]
    return {"model": model, "cores": os.cpu_count(), "machine": platform.machine(),
            "flags": [f for f in interesting if f in flags], "_all_flags": flags}


def _variants(machine, flags):
    if machine in ("x86_64", "AMD64", "i686"):
        v = []
        if "avx512f" in flags:
            v.append(["-mavx512f"])
        if "avx2" in flags and "fma" in flags:
            v.append(["-mavx2", "-mfma"])
        return v or [[]]
    return [[]]  # aarch64: NEON is baseline; armv7 and others: the scalar loop


def _clean_env(**extra):
    """The environment for the probes, less LD_PRELOAD (a sanitizer runtime preloaded into
    the test process has no business in the compiler or in the timing loop)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(extra)
    return env


def peak_from_c(iters=500_000, reps=200):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None
    env = _clean_env()
    info = cpu_info()
    best = None
    with tempfile.TemporaryDirectory(prefix="ei-peak-") as d:
        for i, extra in enumerate(_variants(info["machine"], info["_all_flags"])):
            exe = os.path.join(d, f"peak{i}")
            r = subprocess.run([cc, "-O3", *extra, "-o", exe, os.path.join(HERE, "peak.c")], capture_output=True,
                               env=env)
            if r.returncode != 0:
                continue
            r = subprocess.run([exe, str(iters), str(reps)], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                continue
            isa, gflops = r.stdout.split()[:2]
            if best is None or float(gflops) > best["gflops"]:
                best = {"gflops": float(gflops), "method": f"peak.c FMA loop ({isa}, {os.path.basename(cc)} -O3 "
                                                          f"{' '.join(extra)})".replace(" )", ")")}
    return best


_SGEMM = r"""
import time, numpy as np
n = 2048
a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32); b = a.copy()
a @ b
best = 0.0
for _ in range(5):
    t = time.perf_counter(); a @ b; dt = time.perf_counter() - t
    best = max(best, 2 * n ** 3 / dt / 1e9)
print(best)
"""


def peak_from_numpy():
    env = _clean_env(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-c", _SGEMM], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        return None
    return {"gflops": float(r.stdout.strip()), "method": "numpy sgemm 2048^3, 1 thread (no C compiler)"}


def measure(quick=False):
    """{'gflops': single-thread FP32 peak, 'method': how it was measured}. ``quick``: fewer
    repetitions (a smoke run's figure, more easily lowered by other load)."""
    return (peak_from_c(reps=40 if quick else 200) or peak_from_numpy()
            or {"gflops": None, "method": "unavailable"})


if __name__ == "__main__":
    print(measure())
