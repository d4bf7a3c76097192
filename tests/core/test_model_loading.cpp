// Model folders: every reference layout opens with the right metadata, and
// damaged copies made here are refused with one clear error naming the file.

#include <cstdio>
#include <fstream>
#include <random>

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "superlens/core/model/mapped_file.h"
#include "superlens/core/model/model.h"
#include "superlens/core/model/shard_index.h"
#include "superlens/core/tokenizer/tokenizer.h"
#include "test_paths.h"

using namespace superlens::core;
using namespace superlens::test;
namespace fs = std::filesystem;

namespace {

// A writable copy of a reference model in a fresh temp folder.
class DamagedCopy {
public:
    explicit DamagedCopy(const std::string& source) {
        static int s_counter = 0;
        m_dir = fs::temp_directory_path() / ("superlens-model-test-" + std::to_string(::getpid()) + "-" + std::to_string(s_counter++));
        fs::remove_all(m_dir);
        fs::copy(referenceModel(source), m_dir);
        for (const auto& e : fs::directory_iterator(m_dir)) fs::permissions(e.path(), fs::perms::owner_read | fs::perms::owner_write);
    }
    ~DamagedCopy() { fs::remove_all(m_dir); }
    const fs::path& dir() const { return m_dir; }
    fs::path file(const std::string& name) const { return m_dir / name; }

    std::string read(const std::string& name) const {
        std::ifstream in(file(name), std::ios::binary);
        return {std::istreambuf_iterator<char>(in), {}};
    }
    void write(const std::string& name, const std::string& bytes) const {
        std::ofstream out(file(name), std::ios::binary | std::ios::trunc);
        out << bytes;
    }
    // Rewrites the safetensors header JSON with `edit` applied, keeping the data.
    void editHeader(const std::string& name, const std::function<void(nlohmann::json&)>& edit) const {
        const std::string bytes = read(name);
        std::uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        nlohmann::json h = nlohmann::json::parse(bytes.substr(8, n));
        edit(h);
        std::string header = h.dump();
        const std::uint64_t len = header.size();
        std::string out(reinterpret_cast<const char*>(&len), 8);
        write(name, out + header + bytes.substr(8 + n));
    }

private:
    fs::path m_dir;
};

void expectRefused(const fs::path& dir, const std::string& fragment, const std::string& fileFragment) {
    auto m = Model::open(dir);
    ASSERT_FALSE(m.ok()) << "expected an error containing '" << fragment << "'";
    const std::string& msg = m.error().message;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_NE(msg.find(fileFragment), std::string::npos) << "error should name the file: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(ModelOpen, EveryReferenceLayoutOpensWithItsMetadata) {
    struct Want {
        const char* name;
        const char* type;
        DType dtype;
        std::size_t files;
        bool tied;
    };
    for (const Want& w : {Want{"llama-planted", "llama", DType::F32, 1, false}, Want{"mistral-bf16-sharded", "mistral", DType::BF16, 2, false},
                          Want{"qwen2-f16-tied", "qwen2", DType::F16, 1, true}, Want{"olmo-f32", "olmo", DType::F32, 1, false},
                          Want{"phi3-bf16-two-super-weights", "phi3", DType::BF16, 1, false},
                          Want{"llama-two-in-one-row-mqa", "llama", DType::F32, 1, false}, Want{"llama3-rope-scaled", "llama", DType::F32, 1, false}}) {
        auto m = Model::open(referenceModel(w.name));
        ASSERT_TRUE(m.ok()) << w.name << ": " << m.error().message;
        const auto& c = (*m)->config();
        EXPECT_EQ(c.modelType, w.type);
        EXPECT_EQ((*m)->dominantDtype(), w.dtype) << w.name;
        EXPECT_EQ((*m)->weightFiles().size(), w.files) << w.name;
        EXPECT_EQ(c.tieWordEmbeddings, w.tied);
        const auto& ref = referenceAnswers()[w.name];
        EXPECT_EQ(c.numLayers, ref["layers"].get<int>());
        EXPECT_EQ(c.hiddenSize, ref["hidden"].get<int>());
        EXPECT_EQ(c.intermediateSize, ref["intermediate"].get<int>());
        EXPECT_EQ(c.vocabSize, ref["vocab"].get<int>());
        EXPECT_EQ((*m)->fingerprint().size(), 16u);
    }
    auto llama3 = Model::open(referenceModel("llama3-rope-scaled"));
    EXPECT_EQ((*llama3)->config().ropeScaling.type, RopeScalingType::Llama3);
    EXPECT_EQ((*llama3)->config().ropeScaling.factor, 8.0);
    auto mistral = Model::open(referenceModel("mistral-bf16-sharded"));
    EXPECT_EQ((*mistral)->config().slidingWindow, 4096);
    auto olmo = Model::open(referenceModel("olmo-f32"));
    EXPECT_EQ((*olmo)->config().normKind, NormKind::NonParametricLayerNorm);
    EXPECT_EQ((*olmo)->finalNorm(), nullptr);
    auto phi3 = Model::open(referenceModel("phi3-bf16-two-super-weights"));
    EXPECT_TRUE((*phi3)->config().qkvLayout == QkvLayout::Fused && (*phi3)->config().fusedGateUp);
    auto qwen = Model::open(referenceModel("qwen2-f16-tied"));
    EXPECT_TRUE((*qwen)->config().qkvBias);
    EXPECT_EQ(&(*qwen)->lmHead(), &(*qwen)->embedding());
}

TEST(ModelOpen, ParameterCountMatchesTheTensors) {
    auto m = Model::open(referenceModel("llama-planted"));
    // 256*64 embed + lm_head, 4 layers of (q 64x64, k,v 32x64, o 64x64, gate/up 172x64, down 64x172, 2 norms), final norm.
    const std::int64_t perLayer = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 172 * 64 + 2 * 64;
    EXPECT_EQ((*m)->parameterCount(), 2 * 256 * 64 + 4 * perLayer + 64);
}

TEST(ModelOpen, FingerprintIsStableAndTracksTheCheckpoint) {
    auto a = Model::open(referenceModel("llama-planted"));
    auto b = Model::open(referenceModel("llama-planted"));
    EXPECT_EQ((*a)->fingerprint(), (*b)->fingerprint());
    DamagedCopy copy("llama-planted");
    std::string cfg = copy.read("config.json");
    cfg.insert(cfg.size() - 2, ", \"extra\": 1");
    copy.write("config.json", cfg);
    auto c = Model::open(copy.dir());
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_NE((*c)->fingerprint(), (*a)->fingerprint());
}

TEST(ModelDamage, TruncatedAndEmptyFiles) {
    {
        DamagedCopy c("llama-planted");
        c.write("model.safetensors", "");
        expectRefused(c.dir(), "truncated file", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        const std::string bytes = c.read("model.safetensors");
        c.write("model.safetensors", bytes.substr(0, bytes.size() / 2));
        expectRefused(c.dir(), "outside the data area", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        c.write("model.safetensors", c.read("model.safetensors").substr(0, 100));
        expectRefused(c.dir(), "exceeds the file size", "model.safetensors");
    }
}

TEST(ModelDamage, HostileHeaders) {
    {
        DamagedCopy c("llama-planted");
        std::string bytes = c.read("model.safetensors");
        const std::uint64_t huge = 1ull << 62;
        std::memcpy(bytes.data(), &huge, 8);
        c.write("model.safetensors", bytes);
        expectRefused(c.dir(), "header length", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        std::string bytes = c.read("model.safetensors");
        bytes[8] = '[';
        bytes[12] = '}';
        c.write("model.safetensors", bytes);
        expectRefused(c.dir(), "malformed header JSON", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        // Same size as the embedding, pointed at the embedding's bytes.
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h["lm_head.weight"]["data_offsets"] = h["model.embed_tokens.weight"]["data_offsets"]; });
        expectRefused(c.dir(), "overlap", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h["lm_head.weight"]["shape"] = {256, 65}; });
        expectRefused(c.dir(), "does not match shape x dtype", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h["lm_head.weight"]["data_offsets"] = {10, 5}; });
        expectRefused(c.dir(), "reversed", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h["lm_head.weight"]["shape"] = {-256, 64}; });
        expectRefused(c.dir(), "negative dimension", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h["lm_head.weight"]["dtype"] = "Q4"; });
        expectRefused(c.dir(), "unknown dtype", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        // A known dtype of the same byte size that the forward pass cannot use.
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h["lm_head.weight"]["dtype"] = "I32"; });
        expectRefused(c.dir(), "has dtype I32 (supported: F32, F16, BF16)", "model.safetensors");
    }
    {
        // A seeded fuzz of header bytes: every variant is refused or opens, never crashes.
        DamagedCopy c("llama-planted");
        const std::string good = c.read("model.safetensors");
        std::uint64_t n = 0;
        std::memcpy(&n, good.data(), 8);
        std::mt19937 rng(1234);
        for (int i = 0; i < 300; ++i) {
            std::string bad = good;
            for (int k = 0; k < 4; ++k) bad[8 + rng() % n] = static_cast<char>(rng() % 256);
            c.write("model.safetensors", bad);
            auto m = Model::open(c.dir());
            if (!m.ok()) {
                EXPECT_NE(m.error().message.find("model.safetensors"), std::string::npos) << m.error().message;
            }
        }
    }
}

TEST(ModelDamage, TensorsThatDisagreeWithTheConfig) {
    {
        DamagedCopy c("llama-planted");
        c.editHeader("model.safetensors", [](nlohmann::json& h) { h.erase("model.layers.2.mlp.up_proj.weight"); });
        expectRefused(c.dir(), "required tensor 'model.layers.2.mlp.up_proj.weight' is missing", c.dir().string());
    }
    {
        DamagedCopy c("llama-planted");
        std::string cfg = c.read("config.json");
        cfg.replace(cfg.find("\"intermediate_size\": 172"), 24, "\"intermediate_size\": 170");
        c.write("config.json", cfg);
        expectRefused(c.dir(), "but config.json implies", "model.safetensors");
    }
    {
        DamagedCopy c("llama-planted");
        std::string cfg = c.read("config.json");
        cfg.replace(cfg.find("\"model_type\": \"llama\""), 21, "\"model_type\": \"bloom\"");
        c.write("config.json", cfg);
        expectRefused(c.dir(), "unknown model_type 'bloom' (supported: llama, mistral, qwen2, qwen3, olmo, phi3, gemma2, gemma3_text, gemma3, gpt2, gptj, gpt_neox, phi, mixtral, qwen2_moe, qwen3_moe, olmoe, bert, roberta, xlm-roberta, vit, dinov2, dinov2_with_registers, clip_vision_model, clip)",
                      "config.json");
    }
    {
        // A known family whose config lacks its own keys: named, not guessed.
        DamagedCopy c("llama-planted");
        std::string cfg = c.read("config.json");
        cfg.replace(cfg.find("\"model_type\": \"llama\""), 21, "\"model_type\": \"gpt2\"");
        c.write("config.json", cfg);
        expectRefused(c.dir(), "missing field 'n_embd'", "config.json");
    }
    {
        DamagedCopy c("llama-planted");
        c.write("config.json", "{\"model_type\": \"llama\", ");
        expectRefused(c.dir(), "malformed JSON", "config.json");
    }
    {
        DamagedCopy c("llama-planted");
        std::string cfg = c.read("config.json");
        cfg.replace(cfg.find("\"num_key_value_heads\": 2"), 24, "\"num_key_value_heads\": 3");
        c.write("config.json", cfg);
        expectRefused(c.dir(), "not a multiple of num_key_value_heads", "config.json");
    }
    {
        DamagedCopy c("llama-planted");
        fs::remove(c.file("config.json"));
        expectRefused(c.dir(), "missing", "config.json");
    }
    {
        DamagedCopy c("llama-planted");
        fs::remove(c.file("model.safetensors"));
        expectRefused(c.dir(), "no model.safetensors", c.dir().string());
    }
    expectRefused("/nonexistent/superlens/model", "no such model folder", "/nonexistent/superlens/model");
}

// Sizes beyond int (or int64) are refused before any use: they once wrapped
// around (2^32 + 4 layers ran as 4) or divided by zero (2^32 heads: SIGFPE).
TEST(ModelDamage, ConfigSizesBeyondTheLimits) {
    const struct {
        const char* field;
        const char* value;
        const char* message;
    } cases[] = {
        {"num_attention_heads", "4294967296", "field 'num_attention_heads' must be <= 1024 (got 4294967296)"},
        {"num_hidden_layers", "4294967300", "field 'num_hidden_layers' must be <= 1024 (got 4294967300)"},
        {"num_hidden_layers", "1000000000000", "field 'num_hidden_layers' must be <= 1024 (got 1000000000000)"},
        {"hidden_size", "18446744073709551615", "field 'hidden_size' must be <= 131072 (got 18446744073709551615)"},
        {"intermediate_size", "-172", "field 'intermediate_size' must be >= 1 (got -172)"},
        {"vocab_size", "1099511627776", "field 'vocab_size' must be <= 16777216 (got 1099511627776)"},
        {"num_key_value_heads", "9223372036854775807", "field 'num_key_value_heads' must be <= 1024 (got 9223372036854775807)"},
        {"max_position_embeddings", "4294967296", "field 'max_position_embeddings' must be <= 16777216 (got 4294967296)"},
    };
    for (const auto& k : cases) {
        DamagedCopy c("llama-planted");
        nlohmann::json cfg = nlohmann::json::parse(c.read("config.json"));
        cfg[k.field] = nlohmann::json::parse(k.value);
        c.write("config.json", cfg.dump());
        expectRefused(c.dir(), k.message, "config.json");
    }
    {
        DamagedCopy c("llama-planted");
        nlohmann::json cfg = nlohmann::json::parse(c.read("config.json"));
        cfg["head_dim"] = 2147483648LL;
        c.write("config.json", cfg.dump());
        expectRefused(c.dir(), "field 'head_dim' must be <= 4096 (got 2147483648)", "config.json");
    }
}

// Files that are not regular files: a named pipe once hung the reader (open
// waited for a writer), /dev/zero never ended; both are refused at once now.
// Messages are one line of valid UTF-8: a damaged file's bytes echoed into
// a message (nlohmann's "last read: ..." of a config.json with one flipped
// bit, found by flipping bytes through the CLI) are escaped, well-formed
// non-ASCII text is kept.
TEST(ModelDamage, MessagesAreOneLineOfValidUtf8) {
    using superlens::core::oneLine;
    EXPECT_EQ(oneLine("a\nb\x1b[2J\x7f"), "a\\x0ab\\x1b[2J\\x7f");
    EXPECT_EQ(oneLine("caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80");  // é, →, an emoji
    EXPECT_EQ(oneLine("x\xa2y"), "x\\xa2y");                    // a lone continuation byte
    EXPECT_EQ(oneLine("x\xc3"), "x\\xc3");                      // a sequence cut at the end
    EXPECT_EQ(oneLine("\xc3(\xe2\x82"), "\\xc3(\\xe2\\x82");    // cut before another character
    EXPECT_EQ(oneLine("\xc0\xaf"), "\\xc0\\xaf");               // an overlong '/'
    EXPECT_EQ(oneLine("\xed\xa0\x80"), "\\xed\\xa0\\x80");      // a UTF-16 surrogate
    EXPECT_EQ(oneLine("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
    EXPECT_EQ(oneLine("\xff\xfe"), "\\xff\\xfe");
    EXPECT_EQ(oneLine("\xc2\x9b" "31m"), "\\xc2\\x9b" "31m");   // C1 control (CSI)
    EXPECT_EQ(oneLine("\xc2\xa0"), "\xc2\xa0");                 // no-break space: text

    DamagedCopy c("llama-planted");
    std::string cfg = c.read("config.json");
    const std::size_t at = cfg.find("\"model_type\"") + 11;  // the key's closing quote
    cfg[at] = static_cast<char>(0xa2);
    c.write("config.json", cfg);
    auto m = Model::open(c.dir());
    ASSERT_FALSE(m.ok());
    const std::string& msg = m.error().message;
    EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
    EXPECT_NE(msg.find("model_type\\xa2"), std::string::npos) << msg;
    for (const char ch : msg) EXPECT_LT(static_cast<unsigned char>(ch), 0x80) << msg;
}

TEST(ModelDamage, PipesAndDevicesInsteadOfFiles) {
    for (const char* name : {"config.json", "model.safetensors"}) {
        DamagedCopy c("llama-planted");
        fs::remove(c.file(name));
        ASSERT_EQ(::mkfifo(c.file(name).c_str(), 0600), 0);
        expectRefused(c.dir(), "not a regular file", name);
    }
    {
        DamagedCopy c("llama-planted");
        fs::remove(c.file("config.json"));
        fs::create_symlink("/dev/zero", c.file("config.json"));
        expectRefused(c.dir(), "not a regular file", "config.json");
    }
    {
        DamagedCopy c("mistral-bf16-sharded");
        fs::remove(c.file("model.safetensors.index.json"));
        ASSERT_EQ(::mkfifo(c.file("model.safetensors.index.json").c_str(), 0600), 0);
        expectRefused(c.dir(), "not a regular file", "model.safetensors.index.json");
    }
    {
        // A config.json beyond the size limit is refused before it is read.
        DamagedCopy c("llama-planted");
        std::string cfg = c.read("config.json");
        cfg.insert(cfg.size() - 2, ", \"padding\": \"" + std::string(kMaxConfigBytes, 'x') + "\"");
        c.write("config.json", cfg);
        expectRefused(c.dir(), "more than the 16777216 this file may have", "config.json");
    }
    // Tokenizer files too: a FIFO as tokenizer.model or tokenizer_config.json.
    for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json"}) {
        DamagedCopy c("llama-planted");
        if (std::string(name) == "tokenizer_config.json") fs::copy_file(testData() / "stories260K" / "tokenizer.model", c.file("tokenizer.model"));
        ASSERT_EQ(::mkfifo(c.file(name).c_str(), 0600), 0);
        auto tok = Tokenizer::loadFromFolder(c.dir());
        ASSERT_FALSE(tok.ok()) << name;
        EXPECT_NE(tok.error().message.find(name), std::string::npos) << tok.error().message;
        EXPECT_NE(tok.error().message.find("not a regular file"), std::string::npos) << tok.error().message;
    }
    // The same reader serves every small file (edits, tasks, word lists).
    const fs::path fifo = fs::temp_directory_path() / ("superlens-fifo-" + std::to_string(::getpid()));
    fs::remove(fifo);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto text = readRegularFile(fifo, 1024);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().message, fifo.string() + ": not a regular file");
    fs::remove(fifo);
}

TEST(ModelDamage, ShardedIndexProblems) {
    {
        DamagedCopy c("mistral-bf16-sharded");
        fs::remove(c.file("model-00002-of-00002.safetensors"));
        expectRefused(c.dir(), "shard listed in model.safetensors.index.json is missing", "model-00002-of-00002.safetensors");
    }
    {
        DamagedCopy c("mistral-bf16-sharded");
        std::string idx = c.read("model.safetensors.index.json");
        const auto pos = idx.find("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"");
        idx.replace(pos, 55, "\"model.norm.weight\": \"../../etc/passwd\"");
        c.write("model.safetensors.index.json", idx);
        expectRefused(c.dir(), "is not a plain file name", "model.safetensors.index.json");
    }
    {
        DamagedCopy c("mistral-bf16-sharded");
        std::string idx = c.read("model.safetensors.index.json");
        const auto pos = idx.find("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"");
        idx.replace(pos, 55, "\"model.norm.weight\": \"model-00001-of-00002.safetensors\"");
        c.write("model.safetensors.index.json", idx);
        expectRefused(c.dir(), "listed in the index is not in this shard", "model-00001-of-00002.safetensors");
    }
    {
        // A NUL byte ends the name at the operating system: the path opened
        // would be another file than the one named (found while writing the
        // sharded-index fuzz target).
        DamagedCopy c("mistral-bf16-sharded");
        std::string idx = c.read("model.safetensors.index.json");
        const auto pos = idx.find("\"model.norm.weight\": \"model-00002-of-00002.safetensors\"");
        idx.replace(pos, 55, "\"model.norm.weight\": \"model-00002-of-00002.safetensors\\u0000.bin\"");
        c.write("model.safetensors.index.json", idx);
        expectRefused(c.dir(), "is not a plain file name", "model.safetensors.index.json");
    }
}

TEST(ModelDamage, ShardIndexParser) {
    const std::string name = "/m/model.safetensors.index.json";
    auto ok = parseShardIndex(R"({"metadata": {"total_size": 8}, "weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})", name);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(*ok, (std::map<std::string, std::string>{{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}));
    const std::pair<std::string, std::string> refused[] = {
        {"{", "malformed JSON"},
        {"[]", "missing object 'weight_map'"},
        {R"({"weight_map": []})", "missing object 'weight_map'"},
        {R"({"weight_map": {}})", "weight_map is empty"},
        {R"({"weight_map": {"a": 1}})", "weight_map entry 'a' is not a file name"},
        {R"({"weight_map": {"a": ""}})", "is not a plain file name"},
        {R"({"weight_map": {"a": ".."}})", "is not a plain file name"},
        {R"({"weight_map": {"a": "x\\y"}})", "is not a plain file name"},
        {R"({"weight_map": {"a": "x\u0000y"}})", "is not a plain file name"},
    };
    for (const auto& [text, problem] : refused) {
        auto r = parseShardIndex(text, name);
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_EQ(r.error().message.rfind(name + ": ", 0), 0u) << r.error().message;
        EXPECT_NE(r.error().message.find(problem), std::string::npos) << r.error().message;
        EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
    }
}

TEST(ModelOpen, NeverWritesIntoTheModelFolder) {
    DamagedCopy c("llama-planted");
    const auto before = fs::last_write_time(c.file("model.safetensors"));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(c.dir())) ++entries;
    {
        auto m = Model::open(c.dir());
        ASSERT_TRUE(m.ok());
    }
    std::size_t after = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(c.dir())) ++after;
    EXPECT_EQ(entries, after);
    EXPECT_EQ(before, fs::last_write_time(c.file("model.safetensors")));
}

TEST(Dtypes, ConversionsAreExact) {
    EXPECT_EQ(bf16ToFloat(0x3F80), 1.0f);
    EXPECT_EQ(bf16ToFloat(0xC2F7), -123.5f);
    EXPECT_EQ(f16ToFloat(0x3C00), 1.0f);
    EXPECT_EQ(f16ToFloat(0x0001), 5.9604644775390625e-08f);  // smallest subnormal
    EXPECT_EQ(f16ToFloat(0x7BFF), 65504.0f);
    EXPECT_TRUE(std::isinf(f16ToFloat(0x7C00)));
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
        const float f = f16ToFloat(static_cast<std::uint16_t>(h));
        if (std::isnan(f)) continue;
        EXPECT_EQ(floatToF16(f), static_cast<std::uint16_t>(h)) << h;
        EXPECT_EQ(floatToBf16(bf16ToFloat(static_cast<std::uint16_t>(h))), static_cast<std::uint16_t>(h) == 0x8000 ? 0x8000 : floatToBf16(bf16ToFloat(static_cast<std::uint16_t>(h))));
    }
    EXPECT_EQ(floatToBf16(1.00390625f), 0x3F80);  // ties round to even
}

}  // namespace
