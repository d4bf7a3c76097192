#include "superlens/core/analysis/massive_activations.h"

#include <algorithm>
#include <cmath>

#include "superlens/core/analysis/layer_stats.h"

namespace superlens::core {
namespace {

struct Cell {
    std::int64_t token;
    std::int64_t channel;
    float value;
};

bool byMagnitude(const Cell& a, const Cell& b) {
    const float fa = std::fabs(a.value), fb = std::fabs(b.value);
    if (fa != fb) return fa > fb;
    return a.token != b.token ? a.token < b.token : a.channel < b.channel;
}

// The k largest-|value| entries with |value| >= threshold, largest first.
// A bounded heap, so a long prompt's [T, d] tensor is never copied.
std::vector<Cell> largest(const ActivationTensor& t, int k, double threshold) {
    std::vector<Cell> heap;  // min-heap on magnitude under byMagnitude ordering
    if (k <= 0) return heap;
    const std::int64_t C = t.cols();
    for (std::size_t i = 0; i < t.values.size(); ++i) {
        const float v = t.values[i];
        if (!(std::fabs(v) >= threshold)) continue;
        // A full heap keeps only larger magnitudes (ties go on to the full ordering below):
        // skip the rest before dividing out the position.
        if (static_cast<int>(heap.size()) == k && std::fabs(v) < std::fabs(heap.front().value)) continue;
        const Cell c{static_cast<std::int64_t>(i) / C, static_cast<std::int64_t>(i) % C, v};
        if (static_cast<int>(heap.size()) < k) {
            heap.push_back(c);
            std::push_heap(heap.begin(), heap.end(), byMagnitude);
        } else if (byMagnitude(c, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), byMagnitude);
            heap.back() = c;
            std::push_heap(heap.begin(), heap.end(), byMagnitude);
        }
    }
    std::sort(heap.begin(), heap.end(), byMagnitude);
    return heap;
}

}  // namespace

bool isDelimiterToken(const Tokenizer& tokenizer, TokenId id) {
    if (tokenizer.isSpecial(id)) return true;
    if (tokenizer.bosId() && *tokenizer.bosId() == id) return true;
    return isDelimiterText(tokenizer.tokenText(id));
}

bool isDelimiterText(std::string_view text) {
    if (text.empty()) return false;
    // Punctuation, newlines and whitespace only (ASCII; SentencePiece's
    // "▁" word marker is decoded to a space by tokenText).
    for (unsigned char ch : text) {
        if (ch >= 0x80) return false;
        if (!(std::ispunct(ch) || std::isspace(ch))) return false;
    }
    return true;
}

Result<MassiveActivationReport> findMassiveActivations(const ForwardResult& result, const Tokenizer* tokenizer,
                                                       const MassiveActivationOptions& options) {
    MassiveActivationReport report;
    const auto mark = [&](MassiveActivation& m) {
        m.firstToken = m.token == 0;
        if (result.pixels) m.imageToken = imageTokenAt(m.token, result.registers, result.patchGridWidth);
        if (tokenizer && m.token >= 0 && m.token < static_cast<std::int64_t>(result.tokens.size())) {
            m.delimiter = isDelimiterToken(*tokenizer, result.tokens[static_cast<std::size_t>(m.token)]);
        }
    };
    for (int l = 0;; ++l) {
        const ActivationTensor* resid = result.activation(HookPoint{HookKind::ResidPost, l});  // [T, d]
        if (!resid) break;
        const double med = medianAbs(resid->values);
        report.layerMedian.push_back(med);
        std::vector<MassiveActivation> top;
        for (const Cell& c : largest(*resid, options.topK, 0.0)) {
            MassiveActivation m{.layer = l, .token = c.token, .channel = c.channel, .value = c.value, .ratio = med > 0 ? std::fabs(c.value) / med : 0.0};
            mark(m);
            top.push_back(m);
        }
        report.topPerLayer.push_back(std::move(top));
        if (med > 0) {
            for (const Cell& c : largest(*resid, options.maxFlaggedPerLayer, options.ratioThreshold * med)) {
                MassiveActivation m{.layer = l, .token = c.token, .channel = c.channel, .value = c.value, .ratio = std::fabs(c.value) / med};
                mark(m);
                report.flagged.push_back(m);
            }
        }
    }
    if (report.layerMedian.empty()) return Error{"massive activations need blocks.*.hook_resid_post recorded"};

    // Persistence: the same (token, channel) flagged in consecutive layers.
    struct Run {
        MassiveActivationReport::Persistent p;
        bool open = true;
    };
    std::vector<Run> runs;
    const int layers = static_cast<int>(report.layerMedian.size());
    for (int l = 0; l < layers; ++l) {
        std::vector<const MassiveActivation*> here;
        for (const auto& m : report.flagged) {
            if (m.layer == l) here.push_back(&m);
        }
        for (auto& run : runs) {
            if (!run.open) continue;
            const bool continues = std::any_of(here.begin(), here.end(), [&](const MassiveActivation* m) {
                return m->token == run.p.token && m->channel == run.p.channel;
            });
            if (continues) run.p.lastLayer = l;
            else run.open = false;
        }
        for (const MassiveActivation* m : here) {
            const bool tracked = std::any_of(runs.begin(), runs.end(), [&](const Run& r) {
                return r.open && r.p.token == m->token && r.p.channel == m->channel;
            });
            if (!tracked) runs.push_back({{m->token, m->channel, l, l}, true});
        }
    }
    for (const auto& run : runs) {
        if (run.p.lastLayer > run.p.firstLayer) report.persistent.push_back(run.p);
    }
    return report;
}

}  // namespace superlens::core
