# Cross-compiling edgeinfer for 32-bit ARM Linux (armv7-a hard-float: Raspberry Pi 2/3
# with a 32-bit OS) from an x86-64 Debian/Ubuntu host:
#   apt-get install gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user
#   cmake -S . -B build-armv7 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-armv7.cmake -DEI_WITH_BLAS=OFF
#   cmake --build build-armv7 -j2 && ctest --test-dir build-armv7      # tests run under qemu
# The NEON kernels are written for aarch64 only, so armv7 runs the portable reference
# kernels (ei_isa_name() reports "ref").
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)

set(EI_CROSS_TRIPLE arm-linux-gnueabihf)
set(CMAKE_C_COMPILER ${EI_CROSS_TRIPLE}-gcc)
set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard")
set(CMAKE_FIND_ROOT_PATH /usr/${EI_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-arm;-L;/usr/${EI_CROSS_TRIPLE}")
