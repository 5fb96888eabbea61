"""Output: the markdown table, the JSON file, the PNG chart, and a progress bar."""
import json
import sys
import time


def _f(v, fmt="{:.2f}"):
    return "-" if v is None else fmt.format(v)


def table(result):
    """The markdown table of a run's results (one row per model and thread count)."""
    extra = [e for e in result["engines"] if e not in ("edgeinfer", "onnxruntime")]
    head = ["model", "thr", "GFLOP", "ei med ms", "ei p90", "ort med ms", "ort p90", "ei/ort",
            "ei create ms", "ort create ms", "ei mem MB", "ort mem MB", "ei GFLOP/s (%peak)", "ort GFLOP/s (%peak)"]
    for e in extra:
        head += [f"{e} med ms", f"{e}/ort"]
    head += ["max diff"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in result["results"]:
        ei, ort = r["engines"].get("edgeinfer", {}), r["engines"].get("onnxruntime", {})

        def gf(d):
            if d.get("gflops") is None:
                return "-"
            return f"{d['gflops']:.1f} ({_f(d.get('peak_share') and 100 * d['peak_share'], '{:.0f}')}%)"

        row = [r["model"], str(r["threads"]), _f(r["gflop"]), _f(ei.get("median_ms")), _f(ei.get("p90_ms")),
               _f(ort.get("median_ms")), _f(ort.get("p90_ms")), _f(r.get("ratio_ei_ort"), "**{:.2f}**"),
               _f(ei.get("create_ms"), "{:.0f}"), _f(ort.get("create_ms"), "{:.0f}"),
               _f(ei.get("peak_mem_mb"), "{:.0f}"), _f(ort.get("peak_mem_mb"), "{:.0f}"), gf(ei), gf(ort)]
        for e in extra:
            d = r["engines"].get(e, {})
            row += [_f(d.get("median_ms")), _f(r.get(f"ratio_{e}_ort"))]
        row.append(_f(ei.get("max_rel_diff_vs_ort"), "{:.0e}"))
        if r.get("error"):
            row[-1] = "error: " + r["error"][:60]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def header(result):
    m = result["machine"]
    eng = result["engines"]
    ei = eng.get("edgeinfer", {})
    lines = [f"CPU: {m['cpu_model']}, {m['cores']} cores, ISA flags: {' '.join(m['flags'])}",
             f"FP32 peak, 1 thread: {_f(m['peak_gflops_1t'], '{:.1f}')} GFLOP/s ({m['peak_method']})",
             f"edgeinfer {ei.get('version', '?')} (isa {ei.get('isa', '?')}, blas {ei.get('blas', '?')}), "
             + ", ".join(f"{k} {v.get('version', '?')}" for k, v in eng.items() if k != "edgeinfer")]
    la, lb = m.get("loadavg_start"), m.get("loadavg_end")
    if la and lb:
        busy = max(la[0], lb[0]) > 0.5 * (m["cores"] or 1)
        lines.append(f"load average (1 min) at start / end: {la[0]:.1f} / {lb[0]:.1f} on {m['cores']} cores"
                     + (": other processes were running, so latencies are noisy, multi-thread rows most"
                        if busy else ""))
    for k, why in result.get("skipped_engines", {}).items():
        lines.append(f"skipped {k}: {why}")
    return "\n".join(lines)


def footer(result):
    s = result["settings"]
    return (f"Latency: batch 1, {s['min_time']} s and >= {s['min_runs']} runs per engine (max {s['max_runs']}), "
            f"interleaved in blocks, "
            f"{'runs of the first ' + format(s.get('settle', 0.1) * 1e3, '.0f') + ' ms after each switch discarded' if s['discard_switch'] else 'all runs kept'}; "
            f"onnxruntime {'defaults' if s.get('ort_allow_spinning', True) else 'with allow_spinning=0'}. "
            f"ei/ort = median ratio (< 1: edgeinfer faster). GFLOP counts 2 x MACs of Conv/Gemm/MatMul/LSTM; "
            f"%peak is of threads x the 1-thread peak. mem = peak RSS over the post-import baseline, "
            f"fresh process, {s['mem_threads']} thread(s). max diff = max |ei - ort| / max(1, max |ort|).")


def write_json(result, path):
    with open(path, "w") as f:
        json.dump(result, f, indent=1)


def chart(result, path):
    """PNG: edgeinfer/onnxruntime median ratio per model, one bar per thread count, with
    lines at 1.0 (parity) and 0.9. Returns None, or why no chart was drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib, or the [bench] extra)"
    import numpy as np

    models = list(dict.fromkeys(r["model"] for r in result["results"]))
    threads = sorted({r["threads"] for r in result["results"]})
    val = {(r["model"], r["threads"]): r.get("ratio_ei_ort") for r in result["results"]}
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(models) + 2), 4.5))
    w = 0.8 / max(1, len(threads))
    x = np.arange(len(models))
    for i, t in enumerate(threads):
        ys = [val.get((m, t)) or 0.0 for m in models]
        bars = ax.bar(x + (i - (len(threads) - 1) / 2) * w, ys, w, label=f"{t} thread{'s' if t > 1 else ''}")
        for b, y in zip(bars, ys):
            if y:
                ax.annotate(f"{y:.2f}", (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=7)
    ax.axhline(1.0, color="black", lw=1, label="parity (1.0)")
    ax.axhline(0.9, color="green", lw=1, ls="--", label="0.9")
    ax.set_xticks(x)
    ax.set_xticklabels(models, rotation=35, ha="right")
    ax.set_ylabel("edgeinfer / onnxruntime median latency")
    m = result["machine"]
    load = m.get("loadavg_start")
    sub = f"{m['cpu_model']}, {m['cores']} cores" + (f", load average {load[0]:.1f} at start" if load else "")
    ax.set_title(f"edgeinfer vs onnxruntime {result['engines'].get('onnxruntime', {}).get('version', '')}, "
                 f"batch 1 (lower is better)\n{sub}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


class Progress:
    """tqdm when importable, else a one-line bar on stderr."""

    def __init__(self, total, enabled=True):
        self.total, self.n, self.enabled, self.t0 = total, 0, enabled, time.time()
        self._tqdm = None
        if enabled:
            try:
                from tqdm import tqdm

                self._tqdm = tqdm(total=total, file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                pass

    def step(self, desc=""):
        if self._tqdm is not None:
            self._tqdm.set_description_str(desc)
            return
        if not self.enabled:
            return
        frac = self.n / max(1, self.total)
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r[{bar:<30}] {self.n}/{self.total} {time.time() - self.t0:5.0f}s {desc[:40]:<40}")
        sys.stderr.flush()

    def advance(self):
        self.n += 1
        if self._tqdm is not None:
            self._tqdm.update(1)
        else:
            self.step()

    def write(self, msg):
        if self._tqdm is not None:
            self._tqdm.write(msg, file=sys.stderr)
        else:
            if self.enabled:
                sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.write(msg + "\n")

    def close(self):
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.enabled:
            sys.stderr.write("\n")
