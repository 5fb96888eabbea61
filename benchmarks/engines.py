"""The engines the suite can time, behind one small interface.

Each engine: ``available()`` -> (ok, reason), ``info()`` -> versions, and
``create(path, meta, threads)`` -> a callable ``run(feed)`` returning the outputs. Every
engine is set to exactly ``threads`` threads for one inference and otherwise keeps its
defaults. Imports are lazy, so that the memory probe loads one engine only.
"""
import importlib


class Engine:
    name = ""
    label = ""
    in_memory_probe = True

    def available(self):
        raise NotImplementedError

    def info(self):
        return {}

    def create(self, path, meta, threads):
        raise NotImplementedError


class EdgeInfer(Engine):
    name, label = "edgeinfer", "ei"

    def available(self):
        try:
            import edgeinfer  # noqa: F401
        except ImportError as e:
            return False, f"edgeinfer is not importable ({e})"
        return True, ""

    def info(self):
        import edgeinfer

        return {"version": edgeinfer.__version__, "isa": edgeinfer.get_isa(), "blas": edgeinfer.has_blas()}

    def create(self, path, meta, threads):
        import edgeinfer

        so = edgeinfer.SessionOptions()
        so.intra_op_num_threads = threads
        sess = edgeinfer.InferenceSession(path, so)
        run = lambda feed: sess.run(None, feed)  # noqa: E731
        run.session = sess
        return run


class OnnxRuntime(Engine):
    name, label = "onnxruntime", "ort"

    def available(self):
        try:
            import onnxruntime  # noqa: F401
        except ImportError as e:
            return False, f"onnxruntime is not importable ({e})"
        return True, ""

    def info(self):
        import onnxruntime

        return {"version": onnxruntime.__version__, "graph_optimization_level": "ORT_ENABLE_ALL (default)",
                "allow_spinning": "default (1)" if self.allow_spinning is None else int(self.allow_spinning)}

    allow_spinning = None  # None: onnxruntime's default (its workers spin after a run)

    @classmethod
    def options(cls, threads):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        if cls.allow_spinning is not None:
            so.add_session_config_entry("session.intra_op.allow_spinning", "1" if cls.allow_spinning else "0")
        return so

    def create(self, path, meta, threads, so=None):
        import onnxruntime as ort

        sess = ort.InferenceSession(path, so or self.options(threads), providers=["CPUExecutionProvider"])
        run = lambda feed: sess.run(None, feed)  # noqa: E731
        run.session = sess
        return run


class Torch(Engine):
    """The PyTorch module itself (eager, torch.inference_mode), rebuilt with the same
    weights as the exported file. Its creation time is the module build, not comparable,
    so it is not reported; neither is its memory (the probe would count torch's import)."""

    name, label = "torch", "torch"
    in_memory_probe = False

    def available(self):
        from .models import torch_available

        return torch_available()

    def info(self):
        import torch

        return {"version": torch.__version__}

    def create(self, path, meta, threads):
        import torch

        from . import models

        torch.set_num_threads(threads)
        module = models.build_module(meta["name"])

        def run(feed):
            with torch.inference_mode():
                y = module(*[torch.from_numpy(feed[s["name"]]) for s in meta["inputs"]])
            return [y.numpy()]

        return run


class OpenVINO(Engine):
    """OpenVINO's CPU plugin reads ONNX directly. Not installed where this suite was
    written, so this adapter is untested."""

    name, label = "openvino", "ov"

    def available(self):
        try:
            import openvino  # noqa: F401
        except ImportError:
            return False, "openvino is not installed"
        return True, ""

    def info(self):
        import openvino

        return {"version": getattr(openvino, "__version__", "?")}

    def create(self, path, meta, threads):
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(core.read_model(path), "CPU",
                                      {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
        req = compiled.create_infer_request()

        def run(feed):
            res = req.infer(feed)
            return [res[o] for o in compiled.outputs]

        return run


class _NeedsConversion(Engine):
    """Engines that cannot read ONNX: they are listed with the reason they are skipped."""

    modules = ()

    def available(self):
        for m in self.modules:
            try:
                importlib.import_module(m)
            except ImportError:
                continue
            return False, (f"{m} is installed, but it needs the model converted from ONNX to its own format, "
                           "and no converter is available offline (not implemented)")
        return False, f"not installed ({' / '.join(self.modules)})"


class LiteRT(_NeedsConversion):
    name, label, modules = "litert", "tflite", ("ai_edge_litert", "tflite_runtime")


class NCNN(_NeedsConversion):
    name, label, modules = "ncnn", "ncnn", ("ncnn",)


ALL = {e.name: e for e in (EdgeInfer(), OnnxRuntime(), Torch(), OpenVINO(), LiteRT(), NCNN())}
