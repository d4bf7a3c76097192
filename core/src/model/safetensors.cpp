#include "superlens/core/model/safetensors.h"
#include "superlens/core/model/shard_index.h"

#include <algorithm>
#include <limits>

#include <nlohmann/json.hpp>

namespace superlens::core {
namespace {

// A safetensors header is a few hundred KB even for 70B checkpoints; a much
// larger length is a damaged or hostile file and must not make us parse GBs.
constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;

std::optional<std::size_t> anyDtypeSize(const std::string& name) {
    if (name == "F64" || name == "I64" || name == "U64") return 8;
    if (name == "F32" || name == "I32" || name == "U32") return 4;
    if (name == "F16" || name == "BF16" || name == "I16" || name == "U16") return 2;
    if (name == "I8" || name == "U8" || name == "BOOL" || name == "F8_E4M3" || name == "F8_E5M2") return 1;
    return std::nullopt;
}

bool mulOverflows(std::uint64_t a, std::uint64_t b, std::uint64_t& out) {
    return __builtin_mul_overflow(a, b, &out);
}

}  // namespace

std::int64_t TensorInfo::elementCount() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
}

Result<std::shared_ptr<const SafetensorsFile>> SafetensorsFile::open(const std::filesystem::path& path) {
    auto mapped = MappedFile::open(path);
    if (!mapped) return mapped.error();
    const std::string where = path.string() + ": ";
    const std::uint64_t fileSize = (*mapped)->size();
    if (fileSize < 8) {
        return Error{where + "truncated file (" + std::to_string(fileSize) +
                     " bytes; a safetensors file starts with an 8-byte header length)"};
    }
    std::uint64_t headerLength = 0;
    for (int i = 7; i >= 0; --i) headerLength = (headerLength << 8) | std::to_integer<std::uint8_t>((*mapped)->data()[i]);
    if (headerLength > fileSize - 8) {
        return Error{where + "header length " + std::to_string(headerLength) + " exceeds the file size (" +
                     std::to_string(fileSize) + " bytes): truncated or not a safetensors file"};
    }
    if (headerLength > kMaxHeaderBytes) {
        return Error{where + "header length " + std::to_string(headerLength) + " is implausibly large"};
    }
    const char* headerStart = reinterpret_cast<const char*>((*mapped)->data() + 8);
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(headerStart, headerStart + headerLength);
    } catch (const nlohmann::json::exception& e) {
        return Error{where + "malformed header JSON (" + std::string(e.what()) + ")"};
    }
    if (!header.is_object()) return Error{where + "malformed header: not a JSON object"};

    auto file = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
    file->m_file = std::move(mapped).value();
    file->m_headerLength = headerLength;
    file->m_dataStart = file->m_file->data() + 8 + headerLength;
    const std::uint64_t dataSize = fileSize - 8 - headerLength;

    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") continue;
        const std::string tw = where + "tensor '" + name + "': ";
        if (!entry.is_object()) return Error{tw + "header entry is not an object"};
        const auto dt = entry.find("dtype");
        const auto sh = entry.find("shape");
        const auto off = entry.find("data_offsets");
        if (dt == entry.end() || !dt->is_string()) return Error{tw + "missing or invalid 'dtype'"};
        if (sh == entry.end() || !sh->is_array()) return Error{tw + "missing or invalid 'shape'"};
        if (off == entry.end() || !off->is_array() || off->size() != 2) return Error{tw + "missing or invalid 'data_offsets'"};

        TensorInfo info;
        info.name = name;
        info.dtypeName = dt->get<std::string>();
        info.dtype = dtypeFromName(info.dtypeName);
        const auto elementSize = anyDtypeSize(info.dtypeName);
        if (!elementSize) return Error{tw + "unknown dtype '" + info.dtypeName + "'"};
        std::uint64_t elements = 1;
        for (const auto& d : *sh) {
            if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0)) {
                return Error{tw + "shape has a non-integer or negative dimension"};
            }
            const std::uint64_t dim = d.get<std::uint64_t>();
            if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) || mulOverflows(elements, dim, elements)) {
                return Error{tw + "shape is too large"};
            }
            info.shape.push_back(static_cast<std::int64_t>(dim));
        }
        for (const auto& o : *off) {
            if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<std::int64_t>() >= 0)) {
                return Error{tw + "data_offsets are not non-negative integers"};
            }
        }
        info.begin = (*off)[0].get<std::uint64_t>();
        info.end = (*off)[1].get<std::uint64_t>();
        if (info.begin > info.end) return Error{tw + "data_offsets are reversed"};
        if (info.end > dataSize) {
            return Error{tw + "data_offsets [" + std::to_string(info.begin) + ", " + std::to_string(info.end) +
                         ") lie outside the data area (" + std::to_string(dataSize) + " bytes): file truncated?"};
        }
        std::uint64_t expectedBytes = 0;
        if (mulOverflows(elements, *elementSize, expectedBytes) || expectedBytes != info.end - info.begin) {
            return Error{tw + "byte size " + std::to_string(info.end - info.begin) + " does not match shape x dtype (" +
                         std::to_string(expectedBytes) + " bytes)"};
        }
        file->m_tensors.emplace(name, std::move(info));
    }

    // Overlapping tensors would alias each other's data: refuse them.
    std::vector<const TensorInfo*> byOffset;
    for (const auto& [_, t] : file->m_tensors) byOffset.push_back(&t);
    std::sort(byOffset.begin(), byOffset.end(), [](const TensorInfo* a, const TensorInfo* b) {
        return a->begin < b->begin || (a->begin == b->begin && a->end < b->end);
    });
    for (std::size_t i = 1; i < byOffset.size(); ++i) {
        const TensorInfo* prev = byOffset[i - 1];
        const TensorInfo* cur = byOffset[i];
        if (cur->begin < prev->end) {
            return Error{where + "tensors '" + prev->name + "' and '" + cur->name + "' overlap in the data area"};
        }
    }
    return std::shared_ptr<const SafetensorsFile>(std::move(file));
}

std::string_view SafetensorsFile::headerBytes() const {
    return {reinterpret_cast<const char*>(m_file->data() + 8), static_cast<std::size_t>(m_headerLength)};
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    const auto it = m_tensors.find(name);
    return it == m_tensors.end() ? nullptr : &it->second;
}

Result<std::map<std::string, std::string>> parseShardIndex(std::string_view text, const std::string& name) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        return Error{name + ": malformed JSON (" + std::string(e.what()) + ")"};
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
        return Error{name + ": missing object 'weight_map'"};
    }
    std::map<std::string, std::string> nameToFile;
    for (const auto& [tensor, file] : j["weight_map"].items()) {
        if (!file.is_string()) return Error{name + ": weight_map entry '" + tensor + "' is not a file name"};
        const std::string shard = file.get<std::string>();
        // Shards must be plain file names inside the folder (no ../ escapes, no NUL
        // byte, which would end the name early when the file is opened).
        if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
            shard.find('\0') != std::string::npos || shard == "." || shard == "..") {
            return Error{name + ": shard name '" + shard + "' is not a plain file name"};
        }
        nameToFile[tensor] = shard;
    }
    if (nameToFile.empty()) return Error{name + ": weight_map is empty"};
    return nameToFile;
}

}  // namespace superlens::core
