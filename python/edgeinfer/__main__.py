"""The ``edgeinfer`` command (also ``python -m edgeinfer``).

    edgeinfer demo [--runs N] [--threads N]   run the bundled digits CNN
    edgeinfer info MODEL.onnx                 inputs, outputs and the engine's setup
    edgeinfer version
"""
import argparse
import sys


def _cmd_demo(args):
    from .demo import run_demo

    acc = run_demo(runs=args.runs, threads=args.threads)
    return 0 if acc > 0 else 1


def _fmt_shape(shape):
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _cmd_info(args):
    import edgeinfer

    opts = edgeinfer.SessionOptions()
    opts.intra_op_num_threads = args.threads
    sess = edgeinfer.InferenceSession(args.model, opts)
    print(f"model: {args.model}")
    print("inputs:")
    for a in sess.get_inputs():
        print(f"  {a.name}: {a.type} {_fmt_shape(a.shape)}")
    print("outputs:")
    for a in sess.get_outputs():
        print(f"  {a.name}: {a.type} {_fmt_shape(a.shape)}")
    print(f"engine: edgeinfer {edgeinfer.__version__}, ISA {edgeinfer.get_isa()}, "
          f"BLAS {'yes' if edgeinfer.has_blas() else 'no'}, threads {sess.num_threads}")
    return 0


def _cmd_version(args):
    import edgeinfer

    del args
    print(f"edgeinfer {edgeinfer.__version__} (ISA {edgeinfer.get_isa()}, "
          f"BLAS {'yes' if edgeinfer.has_blas() else 'no'})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="edgeinfer", description="edgeinfer: on-device ONNX inference.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("demo", help="run the bundled digits CNN: predictions, accuracy, latency")
    p.add_argument("--runs", type=int, default=200, help="timed runs at batch 1 (default 200)")
    p.add_argument("--threads", type=int, default=0, help="threads (default 0 = one per core)")
    p.set_defaults(fn=_cmd_demo)
    p = sub.add_parser("info", help="print a model's inputs and outputs")
    p.add_argument("model", help="path to an .onnx file")
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    p.set_defaults(fn=_cmd_info)
    p = sub.add_parser("version", help="print the version, ISA and BLAS use")
    p.set_defaults(fn=_cmd_version)
    args = ap.parse_args(argv)
    if not getattr(args, "fn", None):
        ap.print_help()
        return 2
    import edgeinfer

    try:
        return args.fn(args)
    except edgeinfer.EdgeInferError as e:
        print(f"edgeinfer: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
