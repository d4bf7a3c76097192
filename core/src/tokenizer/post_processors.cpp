#include "tokenizer/post_processors.h"

#include <string>

#include "tokenizer/json_fields.h"

namespace superlens::core {

namespace {

using json_fields::Json;

// Covers TemplateProcessing's single template and Bert/Roberta's
// "cls A sep": fixed ids before and after the sequence.
class AffixPostProcessor final : public PostProcessor {
public:
    AffixPostProcessor(std::vector<TokenId> prefix, std::vector<TokenId> suffix)
        : m_prefix(std::move(prefix)), m_suffix(std::move(suffix)) {}
    void process(std::vector<TokenId>& ids, bool addSpecialTokens) const override {
        if (!addSpecialTokens) return;
        ids.insert(ids.begin(), m_prefix.begin(), m_prefix.end());
        ids.insert(ids.end(), m_suffix.begin(), m_suffix.end());
    }
    void specialIds(std::vector<TokenId>& prefix, std::vector<TokenId>& suffix) const override {
        prefix.insert(prefix.end(), m_prefix.begin(), m_prefix.end());
        suffix.insert(suffix.begin(), m_suffix.begin(), m_suffix.end());
    }

private:
    std::vector<TokenId> m_prefix;
    std::vector<TokenId> m_suffix;
};

class NoOpPostProcessor final : public PostProcessor {
public:
    void process(std::vector<TokenId>&, bool) const override {}
    void specialIds(std::vector<TokenId>&, std::vector<TokenId>&) const override {}
};

class SequencePostProcessor final : public PostProcessor {
public:
    explicit SequencePostProcessor(std::vector<std::unique_ptr<PostProcessor>> parts) : m_parts(std::move(parts)) {}
    void process(std::vector<TokenId>& ids, bool addSpecialTokens) const override {
        for (const auto& part : m_parts) part->process(ids, addSpecialTokens);
    }
    void specialIds(std::vector<TokenId>& prefix, std::vector<TokenId>& suffix) const override {
        // Each part wraps what the previous ones produced.
        for (const auto& part : m_parts) {
            std::vector<TokenId> p, s;
            part->specialIds(p, s);
            prefix.insert(prefix.begin(), p.begin(), p.end());
            suffix.insert(suffix.end(), s.begin(), s.end());
        }
    }

private:
    std::vector<std::unique_ptr<PostProcessor>> m_parts;
};

Result<std::unique_ptr<PostProcessor>> makeTemplate(const Json& spec, const std::string& where) {
    const auto single = spec.find("single");
    if (single == spec.end() || !single->is_array()) return Error{where + ": missing \"single\" template"};
    const auto specials = spec.find("special_tokens");
    std::vector<TokenId> prefix, suffix;
    bool seenSequence = false;
    for (const auto& item : *single) {
        if (item.contains("Sequence")) {
            const auto id = json_fields::getString(item["Sequence"], "id");
            if (id && *id != "A") continue;  // B only exists for pairs
            if (seenSequence) return Error{where + ": sequence A appears twice in \"single\""};
            seenSequence = true;
            continue;
        }
        if (!item.contains("SpecialToken")) return Error{where + ": unknown template piece " + item.dump()};
        const auto name = json_fields::getString(item["SpecialToken"], "id");
        if (!name) return Error{where + ": SpecialToken without id"};
        if (specials == spec.end() || !specials->is_object() || !specials->contains(*name))
            return Error{where + ": special token '" + *name + "' is not in \"special_tokens\""};
        const auto& entry = (*specials)[*name];
        const auto ids = entry.find("ids");
        if (ids == entry.end() || !ids->is_array()) return Error{where + ": special token '" + *name + "' has no ids"};
        for (const auto& id : *ids) {
            if (!id.is_number_integer()) return Error{where + ": special token '" + *name + "' has a bad id"};
            (seenSequence ? suffix : prefix).push_back(id.get<TokenId>());
        }
    }
    return std::unique_ptr<PostProcessor>(new AffixPostProcessor(std::move(prefix), std::move(suffix)));
}

// Bert/Roberta store ["[CLS]", 101] pairs.
Result<TokenId> pairId(const Json& spec, const char* key, const std::string& where) {
    const auto it = spec.find(key);
    if (it == spec.end() || !it->is_array() || it->size() != 2 || !(*it)[1].is_number_integer())
        return Error{where + ": \"" + key + "\" must be [token, id]"};
    return (*it)[1].get<TokenId>();
}

}  // namespace

Result<std::unique_ptr<PostProcessor>> makePostProcessor(const Json& spec) {
    if (spec.is_null()) return std::unique_ptr<PostProcessor>();
    const std::string type = json_fields::typeOf(spec);
    const std::string where = "post_processor " + (type.empty() ? std::string("(no type)") : type);
    if (type == "TemplateProcessing") return makeTemplate(spec, where);
    if (type == "ByteLevel") return std::unique_ptr<PostProcessor>(new NoOpPostProcessor());
    if (type == "BertProcessing" || type == "RobertaProcessing") {
        auto cls = pairId(spec, "cls", where);
        if (!cls) return cls.error();
        auto sep = pairId(spec, "sep", where);
        if (!sep) return sep.error();
        return std::unique_ptr<PostProcessor>(new AffixPostProcessor({cls.value()}, {sep.value()}));
    }
    if (type == "Sequence") {
        const auto it = spec.find("processors");
        if (it == spec.end() || !it->is_array()) return Error{where + ": missing \"processors\" list"};
        std::vector<std::unique_ptr<PostProcessor>> parts;
        for (const auto& child : *it) {
            auto part = makePostProcessor(child);
            if (!part) return part.error();
            if (part.value()) parts.push_back(std::move(part.value()));
        }
        return std::unique_ptr<PostProcessor>(new SequencePostProcessor(std::move(parts)));
    }
    return Error{"unsupported " + where +
                 " (supported: TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence)"};
}

}  // namespace superlens::core
