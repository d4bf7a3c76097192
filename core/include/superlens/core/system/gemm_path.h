#pragma once
// Which kernels multiply a prompt's activations by a weight matrix (the
// engine's Linear with more than one token), chosen once per process.
//
//   SUPERLENS_GEMM=auto (default)  AMX when the CPU has AMX-BF16 (Sapphire
//       Rapids and later) and the kernel grants the tile state, for BF16
//       weights; our own kernel (engine/gemm_panels.h) for the other
//       f32/bf16/f16 weights, in AVX-512 when the CPU has AVX-512 F/DQ/BW/VL,
//       in AVX2 otherwise; the GEMV (gemvPath below) for up to 24-31 tokens
//       (by weight type; 11 for decoded weights, gemvMaxTokens); OpenBLAS
//       (core/system/blas.h) for float64.
//   SUPERLENS_GEMM=amx   AMX for BF16, F16 and F32 weights (f32/f16 split in
//       bf16 parts: exact to fp32 accumulation, but on Sapphire/Emerald
//       Rapids slower than OpenBLAS's AVX-512 sgemm, hence not the default);
//       refused with one clear error on a CPU without AMX.
//   SUPERLENS_GEMM=avx512 | avx2  our kernel in that ISA for F32, BF16 and
//       F16 weights (no AMX), from 2 tokens up; avx512 is refused with one
//       clear error on a CPU without AVX-512.
//   SUPERLENS_GEMM=blas  OpenBLAS only.
// Every path accumulates in fp32 and matches the float64 references to 1e-4
// (tests/core/test_gemm_paths.cpp runs each one this machine can run).

#include <cstdint>
#include <string>

#include "superlens/core/model/dtype.h"
#include "superlens/core/system/cpu_features.h"

namespace superlens::core::gemm {

enum class Mode { Auto, Amx, Avx512, Avx2, Blas };

// The ISA of our own kernel (engine/gemm_panels.h), when it is in use.
enum class PanelIsa { None, Avx2, Avx512 };

struct GemmPath {
    Mode mode = Mode::Auto;
    bool amx = false;        // AMX kernels in use for some weights
    PanelIsa panels = PanelIsa::None;  // our own kernel, in use for some weights
    std::string name;        // e.g. "AMX-BF16 (bf16 weights, activations split in 3 bf16 parts); OpenBLAS otherwise"
    std::string selection;   // why, in words
};

// The process's choice (reads SUPERLENS_GEMM and the CPU on first call;
// an unknown value or amx on a CPU without it ends the process with one line).
const GemmPath& path();

// Whether Linear layers with weights stored as `dtype` run on AMX, or on
// our own kernel (never both).
bool amxFor(DType dtype);
bool panelsFor(DType dtype);

// How a Linear's weights reach the kernels: read in place (mapped f32, bf16
// or f16, or an f32 copy) or through their decoder (GGUF quantized blocks,
// RTN edits), a few rows at a time.
enum class WeightRead { InPlace, Decoded };

// The kernels a Linear with weights stored as `dtype` and `tokens` rows of
// activations runs on, in a few words: "AMX", "AVX-512 kernel", "AVX2 kernel", "OpenBLAS",
// "decoded tiles + OpenBLAS" or, for up to gemvMaxTokens() tokens, the GEMV's
// name. `read`: Decoded for weights read through their decoder (GGUF
// quantized blocks), which the kernels take as f32 rows.
std::string kernelFor(DType dtype, std::int64_t tokens, WeightRead read);

// The single-token GEMV (decode: y = W x, streaming the weights once),
// chosen once per process:
//   SUPERLENS_GEMV=auto (default)  AVX-512 when the CPU and the OS have it
//       (F, BW, VL and the ZMM state), AVX2 + FMA + F16C otherwise (the
//       build's x86-64-v3 baseline).
//   SUPERLENS_GEMV=avx512 | avx2   that kernel (avx512 on a CPU without it is
//       refused with one clear error).
//   SUPERLENS_GEMV_ROW_PREFETCH=auto (default) | on | off   whether one
//       token's bf16 rows, where the AVX-512 kernel streams them one at a
//       time (x of at most 8 KiB), are prefetched in software 1 KiB ahead;
//       auto: bf16RowPrefetchFor(the CPU).
// Both stream four weight rows per pass with software prefetch of the rows
// two passes ahead and accumulate in fp32 (tests/core/test_gemm_paths.cpp
// runs each one this machine can run against float64).
enum class GemvIsa { Avx2, Avx512 };

struct GemvPath {
    GemvIsa isa = GemvIsa::Avx2;
    bool bf16RowPrefetch = true;  // see SUPERLENS_GEMV_ROW_PREFETCH
    std::string name;       // e.g. "AVX-512, 4 rows per pass, prefetch 2 passes ahead"
    std::string selection;  // why, in words
};

const GemvPath& gemvPath();

// The automatic choice of SUPERLENS_GEMV_ROW_PREFETCH. Off on AMD: on Zen 4
// the streamed bf16 rows read 0.88 of the memory read without the software
// prefetch against 0.79 with it when the memory ran fast (even when slow,
// and even with the weights in 4 KiB pages; docs/PERFORMANCE.md, "bf16 rows
// without the software prefetch"). On elsewhere: Intel's L2 streamer stops
// at every 4 KiB page, and a 2048-column bf16 row is one page (there the
// prefetch lifted the four-row passes from 15-19 to 22-25 GB/s); the
// streamed rows without it have not been measured on Intel.
bool bf16RowPrefetchFor(const CpuFeatures& cpu);

// Most tokens a Linear hands the GEMV (engine/gemv.h: the weights streamed
// once, every token per pass), and fewest it hands AMX or our GEMM kernel,
// for weights stored as `stored` and read as `read`. By default, for
// weights read in place: 24 f32, 28 bf16 and 31 f16 tokens (15 bf16 where
// AMX takes bf16); 11 for decoded ones; the kernels from one token more, so
// that no Linear on f32/bf16/f16 or decoded weights runs on OpenBLAS.
// Measured on Zen 4 (2 threads, TinyLlama shape, docs/PERFORMANCE.md "Short
// prompts" and "Up to 31 tokens"): with several tokens the GEMV is
// compute-bound at a rate that does not depend on their number, while our
// kernel multiplies whole 32-token panels (16 in AVX2, or half an AVX-512
// panel at the end), so the GEMV wins until the tokens nearly fill a panel,
// and 16-bit weights (half the bytes per FMA) longest: f32 1.24-1.34x at 20
// tokens, 1.05-1.11x at 24, 0.93-0.96x at 28; bf16 1.44-1.54x at 20,
// 0.96-0.97x at 31; f16 still 1.06-1.14x at 31. Decoded Q4_K_M weights
// tied at 12 tokens and were 1.3x slower at 15. Intel's two 512-bit FMA
// units may favour the kernel: not measured there yet (nor against AMX,
// measured only at 128 tokens, so bf16 keeps 15 where AMX takes it).
// SUPERLENS_GEMV_TOKENS=N (1 to 64) sets both limits to N in every mode, to
// measure the crossover on a new machine (bench/gemv_crossover.py). Otherwise, with SUPERLENS_GEMM set
// to anything but auto: the GEMV for one token only, AMX or our kernel from
// 2 tokens (so that short test prompts run them), OpenBLAS from 2 tokens for
// blas.
std::int64_t gemvMaxTokens(WeightRead read, DType stored);
std::int64_t kernelMinRows(WeightRead read, DType stored);

}  // namespace superlens::core::gemm
