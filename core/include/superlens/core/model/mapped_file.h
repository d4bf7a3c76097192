#pragma once
// A read-only memory mapping of a whole file. Weights are read through it in
// their stored dtype; nothing is copied and the file is never written.

#include <cstddef>
#include <filesystem>
#include <memory>

#include "superlens/core/result.h"

namespace superlens::core {

class MappedFile {
public:
    static Result<std::shared_ptr<const MappedFile>> open(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::byte* data() const { return m_data; }
    std::size_t size() const { return m_size; }
    const std::filesystem::path& path() const { return m_path; }

private:
    MappedFile() = default;
    std::filesystem::path m_path;
    const std::byte* m_data = nullptr;
    std::size_t m_size = 0;
};

}  // namespace superlens::core
