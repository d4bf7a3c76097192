#pragma once
// Helpers shared by the activation cache tests: scratch folders, synthetic
// runs with awkward float values, byte-exact file snapshots.

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "superlens/core/cache/activation_cache.h"

namespace superlens::test {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed with everything in it.
class ScratchDir {
public:
    ScratchDir() {
        std::string pattern = (fs::temp_directory_path() / "superlens-cache-test-XXXXXX").string();
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data())) std::abort();
        m_path = buf.data();
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    const fs::path& path() const { return m_path; }
    fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

inline std::string readBytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::error_code ec;
    std::string bytes(static_cast<std::size_t>(fs::file_size(p, ec)), '\0');
    if (ec) return {};
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    return bytes;
}

inline void writeBytes(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Files in a folder whose names start with `prefix` (e.g. leftover temporaries).
inline std::vector<std::string> filesStartingWith(const fs::path& folder, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(folder)) {
        const std::string n = e.path().filename().string();
        if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    return out;
}

inline bool bitEqual(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Values that a lossy path would change: NaN payloads, infinities, -0,
// subnormals, extremes and plain random numbers.
inline std::vector<float> awkwardFloats(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 3.f);
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                              -std::numeric_limits<float>::infinity(), -0.0f, std::numeric_limits<float>::denorm_min(),
                              std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(), 1e-38f, 2533.0f};
    for (std::size_t i = 0; i < std::size(specials) && i * 7 < n; ++i) v[i * 7] = specials[i];
    if (n > 3) {
        std::uint32_t bits = 0x7fc12345u;  // NaN with a payload
        std::memcpy(&v[3], &bits, 4);
    }
    return v;
}

struct SyntheticShape {
    int layers = 2;
    int hidden = 16;
    int intermediate = 40;
    int heads = 2;
    std::int64_t vocab = 50;
};

inline core::ActivationPtr tensor(std::vector<std::int64_t> shape, unsigned seed) {
    auto t = std::make_shared<core::ActivationTensor>();
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    t->shape = std::move(shape);
    t->values = awkwardFloats(n, seed);
    return t;
}

// A run with resid_post, mlp.hook_post, hook_mlp_out and attention patterns per layer.
inline core::CaptureRun syntheticRun(std::int64_t T, unsigned seed, const SyntheticShape& s = {}, std::string prompt = "synthetic",
                                     std::vector<std::string> edits = {}) {
    core::CaptureRun run;
    run.prompt = std::move(prompt);
    for (std::int64_t i = 0; i < T; ++i) run.tokens.push_back(static_cast<core::TokenId>((i * 7 + seed) % s.vocab));
    run.edits = std::move(edits);
    run.hookPatterns = {"blocks.*"};
    unsigned k = seed * 1000;
    for (int l = 0; l < s.layers; ++l) {
        const std::string b = "blocks." + std::to_string(l) + ".";
        run.hooks[b + "hook_resid_post"] = tensor({T, s.hidden}, ++k);
        run.hooks[b + "hook_mlp_out"] = tensor({T, s.hidden}, ++k);
        run.hooks[b + "mlp.hook_post"] = tensor({T, s.intermediate}, ++k);
        run.hooks[b + "attn.hook_pattern"] = tensor({s.heads, T, T}, ++k);
    }
    run.logits = tensor({1, s.vocab}, ++k);
    return run;
}

inline core::CacheModelInfo syntheticModel(const std::string& fingerprint = "00112233aabbccdd") {
    core::CacheModelInfo m;
    m.fingerprint = fingerprint;
    m.configJson = R"({"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 2})";
    m.name = "synthetic";
    m.dtype = "F32";
    m.parameters = 1234;
    return m;
}

}  // namespace superlens::test
