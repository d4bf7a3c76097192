// Tokenizer benchmark: load time of the 9 MB Llama-3 tokenizer.json and
// encode throughput on 1 MB of English text, against baselines measured in
// the same run on the same machine:
//   - Hugging Face tokenizers (the Rust library through its npm binding),
//     when `node` and an installed npm `tokenizers` package are found
//     (--node-modules DIR, or $SUPERLENS_NODE_MODULES: the folder holding
//     node_modules/tokenizers); the ids are compared too;
//   - libsentencepiece on Llama-2's tokenizer.model against our reading of
//     the equivalent tokenizer.json (always available).
// Prints peak RSS of this process and of the baseline child.
//
// Usage: bench_tokenizer [--text FILE] [--bytes N] [--node-modules DIR] [--repeat N]
// Default text: /usr/share/common-licenses (English licence texts, present on
// every Debian system) repeated up to 1 MiB; pass --text for other corpora.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "superlens/core/tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using superlens::core::TokenId;
using superlens::core::Tokenizer;

namespace {

struct Seconds {
    double wall = 1e9;
    double cpu = 1e9;  // this thread's CPU time: robust when other processes share the cores
};

double threadCpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Seconds secondsOf(const std::function<void()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    const double cpuStart = threadCpuSeconds();
    fn();
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
            threadCpuSeconds() - cpuStart};
}

Seconds best(const Seconds& a, const Seconds& b) { return a.wall <= b.wall ? a : b; }

std::string readAll(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string defaultText(std::size_t bytes) {
    std::string corpus;
    const fs::path dir = "/usr/share/common-licenses";
    std::error_code ec;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.is_regular_file() && !entry.is_symlink()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) corpus += readAll(f) + "\n";
    if (corpus.empty()) corpus = "The quick brown fox jumps over the lazy dog. ";
    std::string text;
    while (text.size() < bytes) text += corpus;
    text.resize(bytes);
    return text;
}

long peakRssKb(int who) {
    rusage usage{};
    getrusage(who, &usage);
    return usage.ru_maxrss;
}

std::unique_ptr<Tokenizer> mustLoad(const fs::path& file, bool json) {
    auto loaded = json ? Tokenizer::loadJson(file) : Tokenizer::loadSentencePiece(file);
    if (!loaded) {
        std::cerr << "bench_tokenizer: " << loaded.error().message << "\n";
        std::exit(1);
    }
    return std::move(loaded.value());
}

struct Timing {
    Seconds loadFirst, loadBest, encodeFirst, encodeBest;
    std::vector<TokenId> ids;
};

Timing measure(const fs::path& file, bool json, const std::string& text, int repeat) {
    Timing t;
    std::unique_ptr<Tokenizer> tok;
    for (int r = 0; r < repeat; ++r) {
        tok.reset();
        const Seconds s = secondsOf([&] { tok = mustLoad(file, json); });
        if (r == 0) t.loadFirst = s;
        t.loadBest = best(t.loadBest, s);
    }
    for (int r = 0; r < repeat; ++r) {
        const Seconds s = secondsOf([&] { t.ids = tok->encode(text, false); });
        if (r == 0) t.encodeFirst = s;  // empty word cache
        t.encodeBest = best(t.encodeBest, s);
    }
    return t;
}

// Runs the npm binding of HF tokenizers; nullopt when unavailable.
std::optional<nlohmann::json> runNodeBaseline(const fs::path& nodeModules, const fs::path& tokenizerJson,
                                              const fs::path& textFile, const fs::path& idsFile, int repeat) {
    if (!fs::exists(nodeModules / "node_modules" / "tokenizers")) return std::nullopt;
    const fs::path script = fs::temp_directory_path() / ("superlens_bench_tok_" + std::to_string(getpid()) + ".js");
    std::ofstream(script) << R"JS(
const [modules, tokFile, textFile, idsFile, repeat] = process.argv.slice(2);
const { Tokenizer } = require(modules + '/node_modules/tokenizers');
const fs = require('fs');
// Wall and process CPU seconds of an operation (CPU includes the worker
// thread that runs encode).
async function timed(fn) {
  const a = process.hrtime.bigint(), c = process.cpuUsage();
  const value = await fn();
  const b = process.hrtime.bigint(), d = process.cpuUsage(c);
  return { value, wall: Number(b - a) / 1e9, cpu: (d.user + d.system) / 1e6 };
}
(async () => {
  const best = (x, y) => (x === null || y.wall < x.wall ? y : x);
  let loadFirst = null, loadBest = null, tok;
  for (let r = 0; r < repeat; r++) {
    const t = await timed(async () => Tokenizer.fromFile(tokFile));
    tok = t.value; if (r === 0) loadFirst = t; loadBest = best(loadBest, t);
  }
  const text = fs.readFileSync(textFile, 'utf8');
  let encodeFirst = null, encodeBest = null, enc;
  for (let r = 0; r < repeat; r++) {
    const t = await timed(() => tok.encode(text, null, { addSpecialTokens: false }));
    enc = t.value; if (r === 0) encodeFirst = t; encodeBest = best(encodeBest, t);
  }
  fs.writeFileSync(idsFile, JSON.stringify(Array.from(enc.getIds())));
  const pick = t => ({ wall: t.wall, cpu: t.cpu });
  console.log(JSON.stringify({ loadFirst: pick(loadFirst), loadBest: pick(loadBest),
                               encodeFirst: pick(encodeFirst), encodeBest: pick(encodeBest) }));
})();
)JS";
    const std::string command = "node '" + script.string() + "' '" + nodeModules.string() + "' '" +
                                tokenizerJson.string() + "' '" + textFile.string() + "' '" + idsFile.string() +
                                "' " + std::to_string(repeat) + " 2>/dev/null";
    std::string output;
    if (FILE* pipe = popen(command.c_str(), "r")) {
        char buffer[4096];
        while (fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
        pclose(pipe);
    }
    fs::remove(script);
    const auto parsed = nlohmann::json::parse(output, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    return parsed;
}

void row(const char* what, const Seconds& ours, const Seconds& theirs, const char* theirName) {
    std::printf("  %-7s superlens %6.3f / %6.3f   %s %6.3f / %6.3f   speed-up %4.1fx wall, %4.1fx cpu\n", what,
                ours.wall, ours.cpu, theirName, theirs.wall, theirs.cpu, theirs.wall / ours.wall, theirs.cpu / ours.cpu);
}

}  // namespace

int main(int argc, char** argv) {
    fs::path textFile;
    std::size_t bytes = 1 << 20;
    int repeat = 3;
    fs::path nodeModules = std::getenv("SUPERLENS_NODE_MODULES") ? std::getenv("SUPERLENS_NODE_MODULES") : "";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool hasValue = i + 1 < argc;
        if (arg == "--text" && hasValue) {
            textFile = argv[++i];
        } else if (arg == "--bytes" && hasValue) {
            bytes = std::stoul(argv[++i]);
        } else if (arg == "--node-modules" && hasValue) {
            nodeModules = argv[++i];
        } else if (arg == "--repeat" && hasValue) {
            repeat = std::max(1, std::stoi(argv[++i]));
        } else {
            std::cerr << "usage: bench_tokenizer [--text FILE] [--bytes N] [--node-modules DIR] [--repeat N]\n";
            return 2;
        }
    }
    const fs::path tokenizers = fs::path(SUPERLENS_TEST_DATA) / "tokenizers";
    const fs::path llama3 = tokenizers / "llama-3-hf" / "tokenizer.json";
    std::string text = textFile.empty() ? defaultText(bytes) : readAll(textFile);
    if (!textFile.empty() && text.size() > bytes) text.resize(bytes);
    // Keep the cut on a character boundary.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
    if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();

    const fs::path tmpText = fs::temp_directory_path() / ("superlens_bench_tok_" + std::to_string(getpid()) + ".txt");
    const fs::path tmpIds = fs::temp_directory_path() / ("superlens_bench_tok_" + std::to_string(getpid()) + ".ids");
    std::ofstream(tmpText, std::ios::binary) << text;

    std::printf("bench_tokenizer: %zu bytes of text (%s), best of %d runs, first run in ()\n", text.size(),
                textFile.empty() ? "/usr/share/common-licenses repeated" : textFile.c_str(), repeat);

    const Timing ours = measure(llama3, true, text, repeat);
    const long oursRssKb = peakRssKb(RUSAGE_SELF);
    std::optional<nlohmann::json> node;
    if (!nodeModules.empty()) node = runNodeBaseline(nodeModules, llama3, tmpText, tmpIds, repeat);

    std::printf("\nLlama-3 tokenizer.json (%.1f MB, 128k vocab, 280k merges); seconds wall / cpu\n",
                static_cast<double>(fs::file_size(llama3)) / 1e6);
    const auto nodeSeconds = [&node](const char* key) {
        return Seconds{(*node)[key]["wall"].get<double>(), (*node)[key]["cpu"].get<double>()};
    };
    const auto line = [&](const char* what, const Seconds& oursBest, const Seconds& oursFirst, const char* key) {
        std::printf("  %-7s superlens %6.3f / %6.3f (first %6.3f)", what, oursBest.wall, oursBest.cpu, oursFirst.wall);
        if (node) {
            const Seconds theirs = nodeSeconds(key);
            std::printf("   hf-tokenizers %6.3f / %6.3f   speed-up %4.1fx wall, %4.1fx cpu\n", theirs.wall, theirs.cpu,
                        theirs.wall / oursBest.wall, theirs.cpu / oursBest.cpu);
        } else {
            std::printf("\n");
        }
    };
    line("load", ours.loadBest, ours.loadFirst, "loadBest");
    line("encode", ours.encodeBest, ours.encodeFirst, "encodeBest");
    if (!node) std::printf("  (hf-tokenizers baseline not run: pass --node-modules DIR holding node_modules/tokenizers)\n");
    std::printf("  encode throughput %.1f MB/s wall, %zu tokens, %.0f tokens/s\n",
                static_cast<double>(text.size()) / 1e6 / ours.encodeBest.wall, ours.ids.size(),
                static_cast<double>(ours.ids.size()) / ours.encodeBest.wall);
    if (node) {
        const auto theirIds = nlohmann::json::parse(readAll(tmpIds), nullptr, false);
        const bool same = !theirIds.is_discarded() && theirIds.get<std::vector<TokenId>>() == ours.ids;
        std::printf("  ids identical to hf-tokenizers: %s\n", same ? "yes" : "NO");
    }

    // Same-run baseline that needs nothing extra: Llama-2 through
    // libsentencepiece vs. our reading of the equivalent tokenizer.json.
    const Timing ours2 = measure(tokenizers / "llama-2-hf" / "tokenizer.json", true, text, repeat);
    const Timing spm = measure(tokenizers / "llama-2-spm" / "tokenizer.model", false, text, repeat);
    std::printf("\nLlama-2 tokenizer.json (ours) vs tokenizer.model (libsentencepiece); seconds wall / cpu\n");
    row("load", ours2.loadBest, spm.loadBest, "sentencepiece");
    row("encode", ours2.encodeBest, spm.encodeBest, "sentencepiece");
    std::printf("  ids identical to sentencepiece: %s\n", ours2.ids == spm.ids ? "yes" : "NO");

    std::printf("\npeak RSS: superlens (Llama-3 part) %.0f MB, whole process %.0f MB", oursRssKb / 1024.0,
                peakRssKb(RUSAGE_SELF) / 1024.0);
    if (node) std::printf(", hf-tokenizers node process %.0f MB", peakRssKb(RUSAGE_CHILDREN) / 1024.0);
    std::printf("\n");
    fs::remove(tmpText);
    fs::remove(tmpIds);
    return 0;
}
