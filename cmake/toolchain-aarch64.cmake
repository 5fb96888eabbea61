# Cross-compiling edgeinfer for 64-bit ARM Linux (Raspberry Pi 4/5 with a 64-bit OS,
# Jetson) from an x86-64 Debian/Ubuntu host:
#   apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DEI_WITH_BLAS=OFF
#   cmake --build build-aarch64 -j2 && ctest --test-dir build-aarch64   # tests run under qemu
# EI_WITH_BLAS=OFF: the host has no arm64 OpenBLAS to link against; the built-in GEMM
# (with NEON kernels) is used. A native build on the device can use libopenblas-dev.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(EI_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${EI_CROSS_TRIPLE}-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/${EI_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and CMake's own try_run) execute target binaries through qemu, with the
# cross sysroot as the dynamic loader's prefix.
set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64;-L;/usr/${EI_CROSS_TRIPLE}")
