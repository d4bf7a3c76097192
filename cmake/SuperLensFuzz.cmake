# SUPERLENS_BUILD_FUZZ: libFuzzer targets for the parsers (tests/fuzz). Needs
# clang (libFuzzer ships with it: Debian's clang + libfuzzer-14-dev). In such a
# build every SuperLens target is compiled with coverage instrumentation,
# AddressSanitizer and UndefinedBehaviorSanitizer (which aborts on the first
# report, so the fuzzer stops there); use a build directory of its own:
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DSUPERLENS_BUILD_FUZZ=ON \
#     -DSUPERLENS_BUILD_GUI=OFF -DSUPERLENS_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
option(SUPERLENS_BUILD_FUZZ "Build the libFuzzer targets in tests/fuzz (clang only; instruments every target)" OFF)
if(SUPERLENS_BUILD_FUZZ AND NOT SUPERLENS_FUZZ_FLAGS_ADDED)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "SUPERLENS_BUILD_FUZZ needs clang for libFuzzer (configure with CC=clang CXX=clang++); "
                        "the compiler is ${CMAKE_CXX_COMPILER_ID}")
  endif()
  set(SUPERLENS_FUZZ_FLAGS_ADDED ON)
  # Through the sanitizer interface target every SuperLens target already links
  # (usage requirements are read at generate time, so core picks them up too).
  target_compile_options(superlens_sanitizers INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  target_link_options(superlens_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
