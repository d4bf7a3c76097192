# Warnings as an INTERFACE target, linked explicitly by our own targets only
# (no global flags, so third-party code is compiled as its authors intended).
add_library(superlens_warnings INTERFACE)
target_compile_options(superlens_warnings INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic -Wno-unused-parameter
                                   $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>>)

# Release code generation: x86-64-v3 (AVX2/FMA/F16C) is the baseline on every
# machine we target; AVX-512 paths are chosen at run time, never compiled in
# as a baseline.
set(SUPERLENS_ARCH_FLAGS "-march=x86-64-v3" CACHE STRING "Target ISA flags for SuperLens code")
add_library(superlens_codegen INTERFACE)
target_compile_options(superlens_codegen INTERFACE
  $<$<CXX_COMPILER_ID:GNU,Clang>:${SUPERLENS_ARCH_FLAGS}>
  $<$<AND:$<CXX_COMPILER_ID:GNU,Clang>,$<CONFIG:Release>>:-O3>)

option(SUPERLENS_SANITIZE "Build with address and undefined-behaviour sanitizers" OFF)
add_library(superlens_sanitizers INTERFACE)
if(SUPERLENS_SANITIZE)
  target_compile_options(superlens_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(superlens_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
