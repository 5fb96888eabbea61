"""edgeinfer's benchmark suite: edgeinfer vs onnxruntime (and other engines when
installed) on models built in code. Run ``python -m benchmarks --help``; see README.md."""
