#include "kernels.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include <immintrin.h>
#include <malloc.h>

#include "gemm_amx.h"
#include "gemm_panels.h"
#include "gemv.h"
#include "row_claims.h"
#include "stored_elements.h"
#include "superlens/core/system/blas.h"
#include "superlens/core/system/gemm_path.h"

namespace superlens::core::kernels {
namespace {

using stored::Stored;
using stored::load8;
using stored::loadOne;

// A forward pass allocates activation buffers of a few MB per block. With
// glibc's defaults each becomes a fresh mmap, so every block pays page
// faults and kernel zeroing for its temporaries (perf: ~15% of a TinyLlama
// pass; 2.6x faster at T=128 with this). Serving them from the heap and not
// trimming it keeps those pages mapped from one block and pass to the next.
void ensureRuntimeConfigured() {
    static const bool s_done = [] {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
        return true;
    }();
    (void)s_done;
}

void gemmNT(std::int64_t m, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float* c,
            std::int64_t ldc) {
    blas::sgemm(false, true, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemmNT(std::int64_t m, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double* c,
            std::int64_t ldc) {
    blas::dgemm(false, true, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

// Rows per decoded tile: about 4 MB of fp32, a multiple of 16, so packing
// the activations once per tile stays cheap next to the tile's GEMM.
std::int64_t tileRows(std::int64_t cols) {
    const std::int64_t rows = (std::int64_t{4} << 20) / (4 * std::max<std::int64_t>(1, cols));
    return std::clamp<std::int64_t>(rows / 16 * 16, 16, 1024);
}

// Per-worker scratch for decoded tiles, reused across calls.
template <class S>
std::vector<S>& tileBuffer(int worker) {
    thread_local std::vector<S> t_buffer;
    (void)worker;
    return t_buffer;
}

// One worker's rows of a single-token GEMV, as the GEMV kernel asks for them.
class ClaimedRows final : public gemv::RowSource {
public:
    ClaimedRows(RowClaims& claims, int part) : m_claims(claims), m_part(part) {}
    bool next(std::int64_t& r0, std::int64_t& r1, std::int64_t& prefetchEnd) override { return m_claims.next(m_part, r0, r1, prefetchEnd); }

private:
    RowClaims& m_claims;
    int m_part;
};

// GEMV for one token or a few: memory-bound, so decode and dot product are
// fused (no tile round trip through memory; gemv.h for f32/bf16/f16 rows,
// every token per pass, the weights read once). The rows come from `claims`
// (row_claims.h), as worker `part`.
template <class S>
void gemvRows(const WeightMatrix& w, const Mat<S>& x, Mat<S>& y, RowClaims& claims, int part) {
    const std::int64_t in = w.cols(), out = w.rows(), n = x.rows();
    if constexpr (std::is_same_v<S, float>) {
        ClaimedRows rows(claims, part);
        const gemv::Tokens tokens{x.data(), in, y.data(), out, n};
        if (const auto* stored = dynamic_cast<const StoredWeight*>(&w); stored && stored->view().dtype != DType::F32) {
            gemv::rows(stored->view().dtype, stored->view().data, in, tokens, rows);
            return;
        }
        if (const float* direct = w.directF32()) {
            gemv::rows(DType::F32, direct, in, tokens, rows);
            return;
        }
    }
    // Other weights: decoded a few rows at a time into fp32 (L2), then, in
    // fp32, through the same GEMV kernel (float64: each row dotted with
    // every token).
    constexpr std::int64_t kChunkRows = 8;
    std::vector<S>& buf = tileBuffer<S>(0);
    buf.resize(static_cast<std::size_t>(kChunkRows * in));
    std::int64_t r0 = 0, r1 = 0, prefetchEnd = 0;
    while (claims.next(part, r0, r1, prefetchEnd)) {
        for (std::int64_t r = r0; r < r1; r += kChunkRows) {
            const std::int64_t re = std::min(r1, r + kChunkRows);
            w.decodeRows(r, re, buf.data());
            if constexpr (std::is_same_v<S, float>) {
                gemv::OneRange chunk(re - r);
                gemv::rows(DType::F32, buf.data(), in, {x.data(), in, y.data() + r, out, n}, chunk);
                continue;
            }
            for (std::int64_t i = r; i < re; ++i) {
                Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> row(buf.data() + (i - r) * in, in);
                for (std::int64_t t = 0; t < n; ++t) {
                    Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> xt(x.data() + t * in, in);
                    y(t, i) = row.dot(xt);
                }
            }
        }
    }
}

// ---- Matrices stored [in, out] (GPT-2's Conv1D weights, seen through TransposedWeight).
// Y = X * S is a plain NN product over the stored layout: nothing is transposed
// or gathered. Work is split over output columns; every output element is
// reduced over the inputs in one fixed order whatever the split.

// y[c] += sum_i x[i] * S[i, c] for c in [c0, c1) and rows i in [0, rows) of a
// row-major S with leading dimension ld, read in place. Four rows stream at
// once; per element the sum runs over i in order, one fused multiply-add per
// term, in the vector and the scalar columns alike, so the bits do not depend
// on where the column range starts or ends.
template <DType D>
void gemvColumns(const Stored<D>* s, std::int64_t ld, std::int64_t rows, const float* x, float* y, std::int64_t c0, std::int64_t c1) {
    const std::int64_t vecEnd = c0 + (c1 - c0) / 8 * 8;
    std::int64_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const Stored<D>* w0 = s + i * ld;
        const Stored<D>* w1 = w0 + ld;
        const Stored<D>* w2 = w1 + ld;
        const Stored<D>* w3 = w2 + ld;
        const __m256 x0 = _mm256_set1_ps(x[i]), x1 = _mm256_set1_ps(x[i + 1]), x2 = _mm256_set1_ps(x[i + 2]), x3 = _mm256_set1_ps(x[i + 3]);
        for (std::int64_t c = c0; c < vecEnd; c += 8) {
            __m256 acc = _mm256_loadu_ps(y + c);
            acc = _mm256_fmadd_ps(load8<D>(w0 + c), x0, acc);
            acc = _mm256_fmadd_ps(load8<D>(w1 + c), x1, acc);
            acc = _mm256_fmadd_ps(load8<D>(w2 + c), x2, acc);
            acc = _mm256_fmadd_ps(load8<D>(w3 + c), x3, acc);
            _mm256_storeu_ps(y + c, acc);
        }
        for (std::int64_t c = vecEnd; c < c1; ++c) {
            float acc = y[c];
            acc = std::fma(loadOne<D>(w0 + c), x[i], acc);
            acc = std::fma(loadOne<D>(w1 + c), x[i + 1], acc);
            acc = std::fma(loadOne<D>(w2 + c), x[i + 2], acc);
            acc = std::fma(loadOne<D>(w3 + c), x[i + 3], acc);
            y[c] = acc;
        }
    }
    for (; i < rows; ++i) {
        const Stored<D>* w0 = s + i * ld;
        const __m256 x0 = _mm256_set1_ps(x[i]);
        for (std::int64_t c = c0; c < vecEnd; c += 8) _mm256_storeu_ps(y + c, _mm256_fmadd_ps(load8<D>(w0 + c), x0, _mm256_loadu_ps(y + c)));
        for (std::int64_t c = vecEnd; c < c1; ++c) y[c] = std::fma(loadOne<D>(w0 + c), x[i], y[c]);
    }
}

// Decoded row blocks of a stored [in, out] matrix, shared by the workers of one call.
std::vector<float>& rowBlockBuffer() {
    thread_local std::vector<float> t_buffer;
    return t_buffer;
}

// Y[n, out] = X[n, in] * S[in, out] for S the stored matrix of a TransposedWeight.
void linearInOut(const WeightMatrix& s, const Mat<float>& x, Mat<float>& y, ThreadPool& pool) {
    const std::int64_t n = x.rows(), in = s.rows(), out = s.cols();
    if (const auto lr = s.lowRank(); lr.u) {
        // S = U Vt (LASER on a Conv1D weight): Y = (X U) Vt, two thin NN GEMMs.
        const std::int64_t k = lr.u->cols();
        Mat<float> xu(n, k);
        blas::sgemm(false, false, n, k, in, 1.0f, x.data(), in, lr.u->data(), k, 0.0f, xu.data(), k);
        pool.parallelFor(out, 16, [&](std::int64_t c0, std::int64_t c1, int) {
            blas::sgemm(false, false, n, c1 - c0, k, 1.0f, xu.data(), k, lr.vt->data() + c0, out, 0.0f, y.data() + c0, out);
        });
        return;
    }
    const float* direct = s.directF32();
    const auto* stored = dynamic_cast<const StoredWeight*>(&s);
    const DType dtype = stored ? stored->view().dtype : DType::F32;
    if (n == 1 && (direct || (stored && dtype != DType::F32))) {
        // One token: stream S's rows in place (16-bit decoded in registers).
        constexpr std::int64_t kChunk = 1024;  // accumulators stay in L1 while the rows stream past
        pool.parallelFor(out, 64, [&](std::int64_t c0, std::int64_t c1, int) {
            std::fill(y.data() + c0, y.data() + c1, 0.0f);
            for (std::int64_t b0 = c0; b0 < c1; b0 += kChunk) {
                const std::int64_t b1 = std::min(c1, b0 + kChunk);
                if (direct) gemvColumns<DType::F32>(direct, out, in, x.data(), y.data(), b0, b1);
                else if (dtype == DType::BF16) gemvColumns<DType::BF16>(reinterpret_cast<const std::uint16_t*>(stored->view().data), out, in, x.data(), y.data(), b0, b1);
                else gemvColumns<DType::F16>(reinterpret_cast<const std::uint16_t*>(stored->view().data), out, in, x.data(), y.data(), b0, b1);
            }
        });
        return;
    }
    if (direct) {
        // F32 checkpoint or edited dense copy: one NN GEMM per column slice, in place.
        pool.parallelFor(out, 16, [&](std::int64_t c0, std::int64_t c1, int) {
            blas::sgemm(false, false, n, c1 - c0, in, 1.0f, x.data(), in, direct + c0, out, 0.0f, y.data() + c0, out);
        });
        return;
    }
    // 16-bit or quantized: decode blocks of whole stored rows (contiguous,
    // about 4 MB of fp32; the workers split the rows), then every worker
    // adds the block's product into its output columns. The blocks follow
    // each other in a fixed order, so the reduction order is fixed too.
    const std::int64_t block = std::clamp<std::int64_t>((std::int64_t{1} << 20) / std::max<std::int64_t>(1, out), 16, std::max<std::int64_t>(16, in));
    std::vector<float>& buf = rowBlockBuffer();
    buf.resize(static_cast<std::size_t>(std::min(block, in) * out));
    if (n == 1) std::fill(y.data(), y.data() + out, 0.0f);
    for (std::int64_t i0 = 0; i0 < in; i0 += block) {
        const std::int64_t i1 = std::min(in, i0 + block);
        pool.parallelFor(i1 - i0, 1, [&](std::int64_t r0, std::int64_t r1, int) { s.decodeRows(i0 + r0, i0 + r1, buf.data() + r0 * out); });
        if (n == 1) {
            pool.parallelFor(out, 64, [&](std::int64_t c0, std::int64_t c1, int) {
                gemvColumns<DType::F32>(buf.data(), out, i1 - i0, x.data() + i0, y.data(), c0, c1);
            });
        } else {
            const float beta = i0 == 0 ? 0.0f : 1.0f;
            pool.parallelFor(out, 16, [&](std::int64_t c0, std::int64_t c1, int) {
                blas::sgemm(false, false, n, c1 - c0, i1 - i0, 1.0f, x.data() + i0, in, buf.data() + c0, out, beta, y.data() + c0, out);
            });
        }
    }
}

// The weight as the AMX kernel and ours read it in place (mapped bf16/f16/f32 or
// an f32 dense copy); data == nullptr when there is no such view.
amx::WeightSource kernelSource(const WeightMatrix& w) {
    amx::WeightSource src;
    if (const auto* stored = dynamic_cast<const StoredWeight*>(&w)) {
        src.dtype = stored->view().dtype;
        src.data = stored->view().data;
    } else if (const float* direct = w.directF32()) {
        src.dtype = DType::F32;
        src.data = direct;
    }
    if (src.data == nullptr) return {};
    src.rows = w.rows();
    src.ld = w.cols();
    return src;
}

// Y = X W^T on AMX: the activations are split and packed once (their 16-row
// blocks over the workers), then each worker multiplies its slice of the
// weight rows straight from the mapped tensor.
void linearAmx(const amx::WeightSource& w, const Mat<float>& x, Mat<float>& y, ThreadPool& pool) {
    thread_local amx::PackedActivations t_packed;
    amx::PackedActivations& packed = t_packed;
    packed.resize(x.rows(), x.cols());
    pool.parallelFor(packed.rowBlocks(), 1, [&](std::int64_t b0, std::int64_t b1, int) { packed.packRows(x.data(), x.cols(), b0, b1); });
    pool.parallelFor(w.rows, 32, [&](std::int64_t r0, std::int64_t r1, int) { amx::multiplyRows(packed, w, r0, r1, y.data(), w.rows); });
}

// Y = X W^T on our own kernel: the activations are transposed into token
// panels once (over the workers), then each worker multiplies its slice of
// the weight rows straight from the mapped tensor.
// A weight without a view in place (decoded rows) takes the same kernel
// through its decoder: w.data == nullptr.
void linearPanels(const amx::WeightSource& src, const WeightMatrix& w, const Mat<float>& x, Mat<float>& y, ThreadPool& pool) {
    const panels::Isa isa = gemm::path().panels == gemm::PanelIsa::Avx512 ? panels::Isa::Avx512 : panels::Isa::Avx2;
    thread_local panels::PackedTokens t_packed;
    panels::PackedTokens& packed = t_packed;
    packed.resize(x.rows(), x.cols(), panels::panelWidth(isa));
    pool.parallelFor(packed.panels, 1, [&](std::int64_t p0, std::int64_t p1, int) { packed.packPanels(x.data(), x.cols(), p0, p1); });
    const std::int64_t out = w.rows();
    if (src.data) {
        pool.parallelFor(out, 32, [&](std::int64_t r0, std::int64_t r1, int) { panels::multiplyRows(isa, packed, src, r0, r1, y.data(), out); });
        return;
    }
    const panels::RowDecoder decode = [&w](std::int64_t g0, std::int64_t g1, float* dst) { w.decodeRows(g0, g1, dst); };
    pool.parallelFor(out, 32, [&](std::int64_t r0, std::int64_t r1, int) { panels::multiplyDecodedRows(isa, packed, decode, r0, r1, y.data(), out); });
}

}  // namespace

template <class S>
void linear(const WeightMatrix& w, const Mat<S>& x, Mat<S>& y, ThreadPool& pool) {
    ensureRuntimeConfigured();
    const std::int64_t n = x.rows(), in = w.cols(), out = w.rows();
    SL_ASSERT(x.cols() == in);
    y.resize(n, out);
    if (n == 0) return;
    if (in == 0) {  // an empty sum; no kernel is asked (AMX would leave its accumulators unwritten)
        y.setZero();
        return;
    }

    if constexpr (std::is_same_v<S, float>) {
        if (const auto* t = dynamic_cast<const TransposedWeight*>(&w)) {
            linearInOut(t->stored(), x, y, pool);
            return;
        }
    }

    if (const auto lr = w.lowRank(); lr.u) {
        // LASER factors: Y = (X Vt^T) U^T, two thin GEMMs instead of a full one.
        const Mat<S> vt = lr.vt->template cast<S>();
        const Mat<S> u = lr.u->template cast<S>();
        const Mat<S> t = x * vt.transpose();
        pool.parallelFor(out, 16, [&](std::int64_t r0, std::int64_t r1, int) {
            gemmNT(n, r1 - r0, u.cols(), t.data(), t.cols(), u.data() + r0 * u.cols(), u.cols(), y.data() + r0, out);
        });
        return;
    }

    // One token, or (fp32) a few: the GEMV, which reads the weights once.
    // (How the kernels read the weight matters only for more than one token;
    // decode skips the lookup.)
    const amx::WeightSource src = n == 1 ? amx::WeightSource{} : kernelSource(w);
    const gemm::WeightRead read = src.data ? gemm::WeightRead::InPlace : gemm::WeightRead::Decoded;
    if ((n == 1 || (std::is_same_v<S, float> && n <= gemm::gemvMaxTokens(read, src.dtype))) && out <= RowClaims::kMaxRows) {
        // Slices of 64 rows' multiples, claimed 16 rows (four 4-row passes) at a time.
        RowClaims claims(out, 64, pool.size(), 16);
        pool.parallelFor(claims.parts(), 1, [&](std::int64_t p0, std::int64_t p1, int) {
            for (std::int64_t p = p0; p < p1; ++p) gemvRows<S>(w, x, y, claims, static_cast<int>(p));
        });
        return;
    }

    if constexpr (std::is_same_v<S, float>) {
        if (n >= gemm::kernelMinRows(read, src.dtype)) {
            if (src.data && gemm::amxFor(src.dtype)) {
                linearAmx(src, x, y, pool);
                return;
            } else if (src.data ? gemm::panelsFor(src.dtype) : gemm::panelsFor(DType::F32)) {
                linearPanels(src, w, x, y, pool);  // in place, or through the weight's decoder
                return;
            }
        }
        if (const float* direct = w.directF32()) {
            pool.parallelFor(out, 16, [&](std::int64_t r0, std::int64_t r1, int) {
                gemmNT(n, r1 - r0, in, x.data(), in, direct + r0 * in, in, y.data() + r0, out);
            });
            return;
        }
    }
    const std::int64_t tile = tileRows(in);
    pool.parallelFor(out, 16, [&](std::int64_t r0, std::int64_t r1, int worker) {
        std::vector<S>& buf = tileBuffer<S>(worker);
        buf.resize(static_cast<std::size_t>(std::min(tile, r1 - r0) * in));
        for (std::int64_t t0 = r0; t0 < r1; t0 += tile) {
            const std::int64_t t1 = std::min(r1, t0 + tile);
            w.decodeRows(t0, t1, buf.data());
            gemmNT(n, t1 - t0, in, x.data(), in, buf.data(), in, y.data() + t0, out);
        }
    });
}

template <class S>
Eigen::Matrix<S, Eigen::Dynamic, 1> vectorOf(const WeightMatrix& w) {
    Eigen::Matrix<S, Eigen::Dynamic, 1> v(w.rows() * w.cols());
    w.decodeRows(0, w.rows(), v.data());
    return v;
}

template <class S>
void gatherRows(const WeightMatrix& w, const std::int32_t* ids, std::int64_t n, Mat<S>& out) {
    out.resize(n, w.cols());
    for (std::int64_t i = 0; i < n; ++i) w.decodeRows(ids[i], ids[i] + 1, out.data() + i * w.cols());
}

template <class S>
void rmsNorm(const Mat<S>& x, const Eigen::Matrix<S, Eigen::Dynamic, 1>& weight, double eps, Mat<S>& out) {
    out.resize(x.rows(), x.cols());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        // Mean of squares accumulated in double: super activations reach 1e4
        // and their square dominates the sum; fp32 would still be fine, but
        // double costs nothing here and removes one source of drift.
        double ss = 0.0;
        const S* row = x.data() + i * x.cols();
        for (Eigen::Index j = 0; j < x.cols(); ++j) ss += static_cast<double>(row[j]) * static_cast<double>(row[j]);
        const S inv = static_cast<S>(1.0 / std::sqrt(ss / static_cast<double>(x.cols()) + eps));
        if (weight.size() > 0) out.row(i) = (x.row(i) * inv).cwiseProduct(weight.transpose());
        else out.row(i) = x.row(i) * inv;
    }
}

template <class S>
void layerNorm(const Mat<S>& x, const Eigen::Matrix<S, Eigen::Dynamic, 1>& weight, const Eigen::Matrix<S, Eigen::Dynamic, 1>& bias, double eps,
               Mat<S>& out) {
    out.resize(x.rows(), x.cols());
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
        const S* row = x.data() + i * x.cols();
        double mean = 0.0;
        for (Eigen::Index j = 0; j < x.cols(); ++j) mean += row[j];
        mean /= static_cast<double>(x.cols());
        double var = 0.0;
        for (Eigen::Index j = 0; j < x.cols(); ++j) var += (row[j] - mean) * (row[j] - mean);
        var /= static_cast<double>(x.cols());
        const double inv = 1.0 / std::sqrt(var + eps);
        for (Eigen::Index j = 0; j < x.cols(); ++j) out(i, j) = static_cast<S>((row[j] - mean) * inv);
        if (weight.size() > 0) out.row(i) = out.row(i).cwiseProduct(weight.transpose());
        if (bias.size() > 0) out.row(i) += bias.transpose();
    }
}

template void linear<float>(const WeightMatrix&, const Mat<float>&, Mat<float>&, ThreadPool&);
template void linear<double>(const WeightMatrix&, const Mat<double>&, Mat<double>&, ThreadPool&);
template Eigen::Matrix<float, Eigen::Dynamic, 1> vectorOf<float>(const WeightMatrix&);
template Eigen::Matrix<double, Eigen::Dynamic, 1> vectorOf<double>(const WeightMatrix&);
template void gatherRows<float>(const WeightMatrix&, const std::int32_t*, std::int64_t, Mat<float>&);
template void gatherRows<double>(const WeightMatrix&, const std::int32_t*, std::int64_t, Mat<double>&);
template void rmsNorm<float>(const Mat<float>&, const Eigen::Matrix<float, Eigen::Dynamic, 1>&, double, Mat<float>&);
template void rmsNorm<double>(const Mat<double>&, const Eigen::Matrix<double, Eigen::Dynamic, 1>&, double, Mat<double>&);
template void layerNorm<float>(const Mat<float>&, const Eigen::Matrix<float, Eigen::Dynamic, 1>&, const Eigen::Matrix<float, Eigen::Dynamic, 1>&,
                               double, Mat<float>&);
template void layerNorm<double>(const Mat<double>&, const Eigen::Matrix<double, Eigen::Dynamic, 1>&, const Eigen::Matrix<double, Eigen::Dynamic, 1>&,
                                double, Mat<double>&);

}  // namespace superlens::core::kernels
