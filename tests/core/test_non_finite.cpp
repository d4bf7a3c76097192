// Non-finite weights: a checkpoint holding NaN or Inf is not run to NaN
// logits silently; the engine refuses with the tensors named and counted.
// A scale edit that overflows float32 is reported as an overflow.

#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "superlens/core/engine/engine.h"
#include "superlens/core/model/non_finite.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;
namespace fs = std::filesystem;

namespace {

// A copy of a reference model whose tensor `name` gets `bits` (a dtype's own
// NaN/Inf pattern) written at stored element (row, col).
class PoisonedCopy {
public:
    explicit PoisonedCopy(const char* source) {
        static int s_counter = 0;
        m_dir = fs::temp_directory_path() / ("superlens-nonfinite-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++));
        fs::remove_all(m_dir);
        fs::copy(referenceModel(source), m_dir);
        for (const auto& e : fs::directory_iterator(m_dir)) fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    }
    ~PoisonedCopy() { fs::remove_all(m_dir); }
    const fs::path& dir() const { return m_dir; }

    // nan: true for NaN, false for +Inf, in the tensor's stored dtype.
    void poison(const std::string& name, std::int64_t row, std::int64_t col, bool nan) {
        const fs::path file = m_dir / "model.safetensors";
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        std::uint64_t n = 0;
        f.read(reinterpret_cast<char*>(&n), 8);
        std::string header(n, '\0');
        f.read(header.data(), static_cast<std::streamsize>(n));
        const auto h = nlohmann::json::parse(header);
        const auto& t = h.at(name);
        const std::string dtype = t.at("dtype");
        const std::int64_t cols = t.at("shape").size() < 2 ? 1 : t.at("shape")[1].get<std::int64_t>();
        const std::int64_t width = dtype == "F32" ? 4 : 2;
        const std::int64_t at = 8 + static_cast<std::int64_t>(n) + t.at("data_offsets")[0].get<std::int64_t>() + (row * cols + col) * width;
        f.seekp(at);
        if (dtype == "F32") {
            const std::uint32_t v = nan ? 0x7fc00000u : 0x7f800000u;
            f.write(reinterpret_cast<const char*>(&v), 4);
        } else {
            const std::uint16_t v = dtype == "F16" ? (nan ? 0x7e00 : 0x7c00) : (nan ? 0x7fc0 : 0x7f80);
            f.write(reinterpret_cast<const char*>(&v), 2);
        }
    }

private:
    fs::path m_dir;
};

std::vector<TokenId> referenceIds(const char* name) { return referenceAnswers()[name]["ids"].get<std::vector<TokenId>>(); }

}  // namespace

TEST(NonFiniteWeights, CleanCheckpointsHaveNone) {
    for (const char* name : {"llama-planted", "qwen2-f16-tied", "phi3-bf16-two-super-weights"}) {
        auto m = Model::open(referenceModel(name));
        ASSERT_TRUE(m.ok()) << m.error().message;
        EXPECT_TRUE(findNonFiniteWeights(**m).empty()) << name;
    }
}

TEST(NonFiniteWeights, AreFoundCountedAndNamedInEachDtype) {
    struct Case {
        const char* model;
        const char* tensor;
    };
    for (const Case& c : {Case{"llama-planted", "model.layers.1.mlp.down_proj.weight"}, Case{"qwen2-f16-tied", "model.layers.0.mlp.down_proj.weight"},
                          Case{"phi3-bf16-two-super-weights", "model.layers.1.mlp.down_proj.weight"}}) {
        PoisonedCopy copy(c.model);
        copy.poison(c.tensor, 3, 5, true);
        copy.poison(c.tensor, 7, 1, true);
        copy.poison(c.tensor, 9, 2, false);
        auto m = Model::open(copy.dir().string());
        ASSERT_TRUE(m.ok()) << m.error().message;
        const auto found = findNonFiniteWeights(**m);
        ASSERT_EQ(found.size(), 1u) << c.model;
        EXPECT_EQ(found[0].name, c.tensor);
        EXPECT_EQ(found[0].nan, 2);
        EXPECT_EQ(found[0].inf, 1);
        EXPECT_EQ(found[0].firstRow, 3);
        EXPECT_EQ(found[0].firstCol, 5);
        EXPECT_EQ(describeNonFinite(found), std::string(c.tensor) + " holds 2 NaN and 1 Inf (first at [3, 5])");

        // The run is refused with the tensor named, not returned as NaN logits.
        Engine engine(*m);
        ForwardRequest req;
        req.tokens = referenceIds(c.model);
        auto r = engine.run(req);
        ASSERT_FALSE(r.ok()) << c.model;
        EXPECT_NE(r.error().message.find("logits are NaN or Inf"), std::string::npos) << r.error().message;
        EXPECT_NE(r.error().message.find(std::string(c.tensor) + " holds 2 NaN and 1 Inf"), std::string::npos) << r.error().message;
        GenerateRequest g;
        g.prompt = referenceIds(c.model);
        g.maxNewTokens = 2;
        auto gen = engine.generate(g);
        ASSERT_FALSE(gen.ok());
        EXPECT_NE(gen.error().message.find(c.tensor), std::string::npos);
    }
}

TEST(NonFiniteWeights, ManyTensorsAreSummarised) {
    PoisonedCopy copy("llama-planted");
    for (int l = 0; l < 4; ++l) copy.poison("model.layers." + std::to_string(l) + ".mlp.down_proj.weight", 0, 0, false);
    auto m = Model::open(copy.dir().string());
    ASSERT_TRUE(m.ok());
    const auto found = findNonFiniteWeights(**m);
    ASSERT_EQ(found.size(), 4u);
    const std::string text = describeNonFinite(found, 3);
    EXPECT_NE(text.find("model.layers.2.mlp.down_proj.weight holds 0 NaN and 1 Inf"), std::string::npos) << text;
    EXPECT_NE(text.find("; and 1 more tensors"), std::string::npos) << text;
    EXPECT_EQ(text.find("model.layers.3."), std::string::npos) << text;
}

TEST(NonFiniteWeights, AnOverflowingScaleEditIsReportedAsAnOverflow) {
    auto m = Model::open(referenceModel("llama-planted"));
    ASSERT_TRUE(m.ok());
    Engine engine(*m);
    ForwardRequest req;
    req.tokens = referenceIds("llama-planted");
    // Every element of the down projection times 3e38: finite edit values whose
    // products overflow float32 in the forward pass.
    auto e = parseEdits({"model.layers.1.mlp.down_proj.weight[*,*]*=3e38"}, **m, 0);
    ASSERT_TRUE(e.ok()) << e.error().message;
    req.edits = *e;
    auto r = engine.run(req);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("every weight is finite, so an activation overflowed float32"), std::string::npos) << r.error().message;
    // The engine is still usable afterwards.
    req.edits.clear();
    EXPECT_TRUE(engine.run(req).ok());
}
