"""Build of the edgeinfer Python extension, edgeinfer._core.

The extension is the whole C engine (every file under csrc/, the same lists as
CMakeLists.txt) plus the binding python/src/_core.c, linked against OpenBLAS from the
scipy-openblas32 wheel. Metadata lives in pyproject.toml; this file only describes the
extension and how to compile it:

- ISA kernels (csrc/kernels/x86/*_avx2.c, *_avx512.c, csrc/kernels/arm/*_neon.c) get their
  own flags, so they are compiled here file by file and handed to the link as objects.
  Never -march=native: the wheel must run on any CPU of its architecture.
- Objects are rebuilt only when their source or a header under csrc/ changed, and in
  parallel (EDGEINFER_JOBS, default: CPU count), so rebuilding after editing one op is quick.
- EDGEINFER_BUILD_DIR moves the build folder (default build/), so several people building
  one checkout at once do not collide. EDGEINFER_WERROR=1 adds -Werror (CI).
"""
import glob
import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

COMMON_ARGS = ["-std=c11", "-O3", "-fno-math-errno", "-Wall", "-Wextra"]
if os.environ.get("EDGEINFER_WERROR", "") not in ("", "0"):
    COMMON_ARGS.append("-Werror")

AVX2_ARGS = ["-mavx2", "-mfma"]
AVX512_ARGS = ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"]

CORE_DIRS = ["core", "onnx", "opt", "ops", "quant", "kernels", os.path.join("kernels", "ref")]


def _rel(path):
    return os.path.relpath(path, HERE)


def _glob(pattern):
    return sorted(_rel(p) for p in glob.glob(os.path.join(HERE, pattern)))


def _arch():
    m = platform.machine().lower()
    if m in ("x86_64", "amd64", "x64"):
        return "x86"
    if m in ("aarch64", "arm64"):
        return "arm64"
    return "other"


def engine_sources():
    """[(source, extra compile args)] for every engine file of this architecture."""
    out = []
    for d in CORE_DIRS:
        out += [(s, []) for s in _glob(os.path.join("csrc", d, "*.c"))]
    arch = _arch()
    if arch == "x86":
        out += [(s, AVX2_ARGS) for s in _glob("csrc/kernels/x86/*_avx2.c")]
        out += [(s, AVX512_ARGS) for s in _glob("csrc/kernels/x86/*_avx512.c")]
    elif arch == "arm64":
        out += [(s, []) for s in _glob("csrc/kernels/arm/*_neon.c")]
    return out


def engine_headers():
    pats = ["csrc/**/*.h", "csrc/**/*.def", "csrc/**/*.inc"]
    return sorted({_rel(p) for pat in pats for p in glob.glob(os.path.join(HERE, pat), recursive=True)})


def openblas():
    """(include dir, lib dir, library name) of the scipy-openblas32 wheel."""
    import scipy_openblas32

    return (scipy_openblas32.get_include_dir(), scipy_openblas32.get_lib_dir(),
            scipy_openblas32.get_library())


def numpy_include():
    import numpy

    return numpy.get_include()


class BuildExt(build_ext):
    """Compiles the engine's C files (each with its own ISA flags, incrementally, in
    parallel) and links them with the binding into edgeinfer._core."""

    def finalize_options(self):
        super().finalize_options()
        # Resolved here, not at import time, so that `setup.py --version` etc. work
        # without the build requirements installed.
        inc, libdir, lib = openblas()
        for ext in self.extensions:
            ext.include_dirs += [numpy_include(), inc]
            ext.library_dirs.append(libdir)
            ext.libraries.insert(0, lib)

    def _flags_changed(self, ext):
        """True (and records the new value) when the compile command differs from the one
        the objects in build_temp were made with (other CFLAGS, -Werror, compiler...)."""
        key = repr((self.compiler.compiler_so, sorted(ext.define_macros), ext.include_dirs, COMMON_ARGS,
                    AVX2_ARGS, AVX512_ARGS))
        stamp = os.path.join(self.build_temp, "edgeinfer-flags.txt")
        try:
            with open(stamp) as f:
                if f.read() == key:
                    return False
        except OSError:
            pass
        os.makedirs(self.build_temp, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(key)
        return True

    def _compile_engine(self, ext):
        headers = engine_headers()
        newest_header = max((os.path.getmtime(os.path.join(HERE, h)) for h in headers), default=0)
        macros = list(ext.define_macros)
        rebuild_all = self.force or self._flags_changed(ext)
        jobs = []
        objects = []
        for src, isa_args in engine_sources():
            obj = os.path.join(self.build_temp, os.path.splitext(src)[0] + self.compiler.obj_extension)
            objects.append(obj)
            src_abs = os.path.join(HERE, src)
            if (not rebuild_all and os.path.exists(obj)
                    and os.path.getmtime(obj) >= max(os.path.getmtime(src_abs), newest_header)):
                continue
            jobs.append((src, isa_args))

        def compile_one(job):
            src, isa_args = job
            self.compiler.compile([src], output_dir=self.build_temp, macros=macros,
                                  include_dirs=ext.include_dirs,
                                  extra_postargs=COMMON_ARGS + list(isa_args))

        n = int(os.environ.get("EDGEINFER_JOBS", "0") or 0) or (os.cpu_count() or 1)
        for src, _ in jobs:
            os.makedirs(os.path.join(self.build_temp, os.path.dirname(src)), exist_ok=True)
        if jobs:
            # Compiling in a thread pool is safe: each call only spawns the compiler.
            with ThreadPoolExecutor(max_workers=max(1, n)) as pool:
                for _ in pool.map(compile_one, jobs):
                    pass
        return objects

    def build_extension(self, ext):
        # Relative source paths: run from the project root whatever the caller's cwd.
        old = os.getcwd()
        os.chdir(HERE)
        try:
            ext.extra_objects = self._compile_engine(ext)
            # Any newer object (or source/header) relinks the extension.
            ext.depends = list(ext.depends) + ext.extra_objects + engine_headers()
            super().build_extension(ext)
        finally:
            os.chdir(old)


def make_extension():
    arch = _arch()
    macros = [("_POSIX_C_SOURCE", "200809L"), ("_XOPEN_SOURCE", "700"),
              ("EI_HAVE_BLAS", "1"), ("EI_BLAS_SCIPY_PREFIX", "1"),
              ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if arch == "x86":
        macros.append(("EI_ARCH_X86", "1"))
    elif arch == "arm64":
        macros.append(("EI_ARCH_ARM64", "1"))
    link_args = []
    if sys.platform.startswith("linux"):
        # Find OpenBLAS next to us in site-packages; __init__.py also preloads it.
        link_args.append("-Wl,-rpath,$ORIGIN/../scipy_openblas32/lib")
    return Extension(
        "edgeinfer._core",
        sources=["python/src/_core.c"],
        include_dirs=["csrc", "csrc/include"],
        define_macros=macros,
        libraries=["m", "pthread"],
        extra_compile_args=COMMON_ARGS,
        extra_link_args=link_args,
    )


build_dir = os.environ.get("EDGEINFER_BUILD_DIR")
options = {"build": {"build_base": build_dir}} if build_dir else {}

setup(
    ext_modules=[make_extension()],
    cmdclass={"build_ext": BuildExt},
    options=options,
)
