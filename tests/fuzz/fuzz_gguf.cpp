// Fuzz target: the GGUF reader (core/src/model/gguf.cpp) and the dequantizers.
// Every input either opens or gives one error line starting "fuzz.gguf: ";
// an opened file's metadata is decoded through every accessor and a bounded
// number of rows of every tensor is dequantized (tensor data must lie inside
// the input).

#include <cstring>
#include <vector>

#include "fuzz_common.h"
#include "superlens/core/model/gguf.h"

using namespace superlens::core;
namespace fz = superlens::fuzz;

namespace {

void walk(const GgufValue& v, int depth) {
    (void)v.typeName();
    if (v.type != GgufValueType::Array || depth > 2 || v.length > 4096) return;
    for (const GgufValue& item : v.items()) walk(item, depth + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::byte> bytes(size);
    if (size) std::memcpy(bytes.data(), data, size);
    auto opened = GgufFile::fromBytes(std::move(bytes), "fuzz.gguf");
    if (!opened) {
        fz::checkMessage(opened.error().message, "fuzz.gguf: ");
        return 0;
    }
    const GgufFile& f = **opened;
    fz::require(f.version() == 2 || f.version() == 3, "version");
    fz::require(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0, "alignment");
    fz::require(f.headerBytes().size() <= f.fileSize(), "header size");
    for (const auto& [key, value] : f.metadata()) {
        fz::require(f.find(key) == &value, "key lookup");
        walk(value, 0);
        // Typed accessors either succeed or give one line naming the file and the key.
        auto check = [](const Error& e) { fz::checkMessage(e.message, "fuzz.gguf: metadata key "); };
        if (auto r = f.getUInt(key); !r) check(r.error());
        if (auto r = f.getInt(key); !r) check(r.error());
        if (auto r = f.getFloat(key); !r) check(r.error());
        if (auto r = f.getBool(key); !r) check(r.error());
        if (auto r = f.getString(key); !r) check(r.error());
        if (auto r = f.getStringArray(key); !r) check(r.error());
        if (auto r = f.getIntArray(key); !r) check(r.error());
        if (auto r = f.getFloatArray(key); !r) check(r.error());
    }
    const std::byte* base = reinterpret_cast<const std::byte*>(f.headerBytes().data());
    std::int64_t budget = 1 << 16;  // values dequantized per input, to keep executions fast
    std::vector<float> row;
    for (const GgufTensor& t : f.tensors()) {
        fz::require(f.findTensor(t.name) == &t, "tensor lookup");
        fz::require(t.data >= base && t.byteSize <= f.fileSize() && static_cast<std::uint64_t>(t.data - base) <= f.fileSize() - t.byteSize,
                    "tensor data inside the file");
        fz::require(t.offset % f.alignment() == 0, "tensor offset aligned");
        fz::require(t.rowBytes() * static_cast<std::uint64_t>(t.rowCount()) == t.byteSize || t.elementCount == 0, "row bytes");
        if (!canDequantize(t.type) || t.elementCount == 0 || t.rowLength() > budget) continue;
        row.resize(static_cast<std::size_t>(t.rowLength()));
        for (std::int64_t r = 0; r < t.rowCount() && budget >= t.rowLength(); ++r) {
            t.dequantizeRows(r, 1, row.data());
            budget -= t.rowLength();
        }
    }
    return 0;
}
