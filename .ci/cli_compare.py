"""CI helper: runs the same model and input through two builds of the C CLI (the native one
and a cross-built one under qemu) and checks that their outputs agree.

    python .ci/cli_compare.py --workdir DIR --native build/edgeinfer \
        --cross "qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/edgeinfer"

Tolerance: rtol 1e-5, atol 1e-5 x max|output|. The builds use different GEMMs (OpenBLAS vs
the built-in NEON one) and SIMD widths, so float32 sums of up to 64 products are
reassociated; anything beyond a few ulps would be a real bug. Also checks that `info`
reports the same declared inputs and outputs, and that EI_ISA=ref agrees with the default.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))

from test_cli import small_cnn  # noqa: E402  (the model the CLI tests use)


def run(argv, env=None):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env,
                         stdin=subprocess.DEVNULL)
    if res.returncode != 0:
        sys.exit(f"FAILED ({res.returncode}): {' '.join(argv)}\n{res.stdout}\n{res.stderr}")
    return res.stdout


def io_lines(info_text):
    """The inputs/outputs part of `info` (engine lines like isa/blas differ by design)."""
    return [ln for ln in info_text.splitlines() if ln.startswith("  ")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--native", required=True)
    ap.add_argument("--cross", required=True, help="command line of the cross CLI (with its emulator)")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    model = os.path.join(args.workdir, "small_cnn.onnx")
    with open(model, "wb") as f:
        f.write(small_cnn().SerializeToString())
    x = np.random.default_rng(7).standard_normal((3, 3, 8, 8)).astype(np.float32)
    xin = os.path.join(args.workdir, "image.npy")
    np.save(xin, x)

    native = shlex.split(args.native)
    cross = shlex.split(args.cross)
    info_n = run(native + ["info", model])
    info_c = run(cross + ["info", model])
    assert io_lines(info_n) == io_lines(info_c), (info_n, info_c)
    print(re.search(r"isa: \S+", info_n).group(0), "(native) vs", re.search(r"isa: \S+", info_c).group(0), "(cross)")

    results = {}
    env_ref = dict(os.environ, EI_ISA="ref")
    for name, argv, env in [("native", native, None), ("cross", cross, None), ("cross-ref", cross, env_ref)]:
        out = os.path.join(args.workdir, name)
        run(argv + ["run", model, "-i", f"image={xin}", "-o", out, "--threads", "2"], env=env)
        results[name] = {f: np.load(os.path.join(out, f)) for f in sorted(os.listdir(out))}
    assert sorted(results["native"]) == ["feat_map_0.npy", "probs.npy"], sorted(results["native"])
    for other in ("cross", "cross-ref"):
        assert sorted(results[other]) == sorted(results["native"])
        for f, a in results["native"].items():
            b = results[other][f]
            assert a.dtype == b.dtype and a.shape == b.shape, (other, f, a.shape, b.shape)
            scale = max(1.0, float(np.abs(a).max()))
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5 * scale, err_msg=f"{other}: {f}")
            print(f"{other:9s} {f:16s} max |diff| = {float(np.abs(a - b).max()):.3g}")
    run(cross + ["bench", model, "--shape", "image=1x3x8x8", "--runs", "3", "--warmup", "1"])
    print("cross CLI agrees with the native CLI")


if __name__ == "__main__":
    main()
