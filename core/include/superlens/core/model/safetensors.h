#pragma once
// One .safetensors file, memory-mapped and fully validated on open:
// header length within the file, well-formed header JSON, known dtypes,
// byte sizes equal to shape x dtype, offsets inside the data area and not
// overlapping. Every error names the file and the problem.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "superlens/core/model/dtype.h"
#include "superlens/core/model/mapped_file.h"
#include "superlens/core/result.h"

namespace superlens::core {

// A tensor inside a mapped file. `dtype` is empty for dtypes SuperLens does
// not compute with (I8, F64, ...): such tensors are validated but only an
// error if the model needs them.
struct TensorInfo {
    std::string name;
    std::string dtypeName;  // as written in the header, e.g. "BF16"
    std::optional<DType> dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // byte offsets relative to the data area
    std::uint64_t end = 0;

    std::int64_t elementCount() const;
};

class SafetensorsFile {
public:
    static Result<std::shared_ptr<const SafetensorsFile>> open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return m_file->path(); }
    std::uint64_t fileSize() const { return m_file->size(); }
    // The raw header JSON bytes (used for the model fingerprint).
    std::string_view headerBytes() const;
    const std::map<std::string, TensorInfo>& tensors() const { return m_tensors; }
    const TensorInfo* find(const std::string& name) const;
    // Pointer to the first byte of a tensor's data (unaligned in general).
    const std::byte* data(const TensorInfo& t) const { return m_dataStart + t.begin; }

private:
    std::shared_ptr<const MappedFile> m_file;
    const std::byte* m_dataStart = nullptr;
    std::uint64_t m_headerLength = 0;
    std::map<std::string, TensorInfo> m_tensors;
};

}  // namespace superlens::core
