#pragma once
// A read-only memory mapping of a whole file. Weights are read through it in
// their stored dtype; nothing is copied and the file is never written.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

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

// The whole of a small text file (config.json, an index, an edits or tasks
// file), refused with one error naming the file when it is not a regular file
// (a named pipe would block the reader forever, /dev/zero never end) or is
// larger than maxBytes. Opened non-blocking, so a FIFO cannot hang the open.
Result<std::string> readRegularFile(const std::filesystem::path& path, std::size_t maxBytes);

// Limits for the text files SuperLens reads whole.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{16} << 20;  // config.json, indexes, edits files, word lists
inline constexpr std::size_t kMaxTextBytes = std::size_t{1} << 30;     // corpora and task files

}  // namespace superlens::core
