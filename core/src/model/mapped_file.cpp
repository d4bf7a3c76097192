#include "superlens/core/model/mapped_file.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace superlens::core {

namespace {

// An open descriptor of a regular file and its size. O_NONBLOCK: opening a
// named pipe must not wait for a writer; it is then refused as not regular.
struct RegularFile {
    int fd = -1;
    std::size_t size = 0;
};

Result<RegularFile> openRegular(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return Error{path.string() + ": cannot open: " + std::strerror(errno)};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return Error{path.string() + ": cannot stat: " + std::strerror(err)};
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Error{path.string() + ": not a regular file"};
    }
    return RegularFile{fd, static_cast<std::size_t>(st.st_size)};
}

// SUPERLENS_HUGE_PAGES=1: read files into anonymous memory in 2 MiB pages
// instead of mapping the page cache (see readIntoHugePages).
bool hugePageCopyAsked() {
    const char* v = std::getenv("SUPERLENS_HUGE_PAGES");
    return v && std::strcmp(v, "1") == 0;
}

// The whole file read into a fresh anonymous region that starts on a 2 MiB
// boundary and is advised MADV_HUGEPAGE, then made read-only. A page cache
// mapping is read through 2 MiB pages only when the kernel happens to hold
// the file in 2 MiB folios (measured on Linux 6.18: a bf16 checkpoint fully,
// an f32 one to 5 %); decode streams every weight once per token and reads
// faster through huge pages (docs/PERFORMANCE.md). The region is exactly the
// file's size rounded up to 4 KiB pages, so the destructor's munmap(data,
// size) releases it like a file mapping. Costs: the open reads the whole file,
// and the pages are private memory (RSS = file size, as when a mapped file is
// read whole).
Result<const std::byte*> readIntoHugePages(int fd, std::size_t size, const std::filesystem::path& path) {
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const auto pageSize = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    if (size > SIZE_MAX - kHuge - pageSize) return Error{path.string() + ": too large to copy into memory"};
    const std::size_t length = (size + pageSize - 1) / pageSize * pageSize;
    void* raw = ::mmap(nullptr, length + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return Error{path.string() + ": cannot allocate " + std::to_string(size) + " bytes for a huge-page copy (SUPERLENS_HUGE_PAGES=1): " + std::strerror(errno)};
    const auto base = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (base + kHuge - 1) / kHuge * kHuge;
    if (aligned > base) ::munmap(raw, aligned - base);
    const std::uintptr_t end = base + length + kHuge;
    if (end > aligned + length) ::munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
    auto* data = reinterpret_cast<std::byte*>(aligned);
    (void)::madvise(data, length, MADV_HUGEPAGE);  // without THP the copy still works, in 4 KiB pages
    std::size_t done = 0;
    while (done < size) {
        const std::size_t chunk = std::min<std::size_t>(size - done, std::size_t{64} << 20);
        const ssize_t n = ::pread(fd, data + done, chunk, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : 0;
            ::munmap(data, length);
            return Error{path.string() + ": read error" + (err ? std::string(": ") + std::strerror(err) : std::string(" (file shrank)"))};
        }
        done += static_cast<std::size_t>(n);
    }
    ::mprotect(data, length, PROT_READ);
    return static_cast<const std::byte*>(data);
}

}  // namespace

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::filesystem::path& path) {
    auto opened = openRegular(path);
    if (!opened) return opened.error();
    const int fd = opened->fd;
    auto file = std::shared_ptr<MappedFile>(new MappedFile());
    file->m_path = path;
    file->m_size = opened->size;
    if (file->m_size > 0 && hugePageCopyAsked()) {
        auto copy = readIntoHugePages(fd, file->m_size, path);
        ::close(fd);
        if (!copy) return copy.error();
        file->m_data = *copy;
        return std::shared_ptr<const MappedFile>(std::move(file));
    }
    if (file->m_size > 0) {
        // MAP_PRIVATE + PROT_READ: pages come from the page cache on demand;
        // opening a 13 GB checkpoint reads nothing but the headers we touch.
        void* p = ::mmap(nullptr, file->m_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            return Error{path.string() + ": cannot memory-map: " + std::strerror(err)};
        }
        file->m_data = static_cast<const std::byte*>(p);
    }
    ::close(fd);
    return std::shared_ptr<const MappedFile>(std::move(file));
}

MappedFile::~MappedFile() {
    if (m_data) ::munmap(const_cast<std::byte*>(m_data), m_size);
}

Result<std::string> readRegularFile(const std::filesystem::path& path, std::size_t maxBytes) {
    auto opened = openRegular(path);
    if (!opened) return opened.error();
    const int fd = opened->fd;
    if (opened->size > maxBytes) {
        ::close(fd);
        return Error{path.string() + ": " + std::to_string(opened->size) + " bytes, more than the " + std::to_string(maxBytes) +
                     " this file may have"};
    }
    std::string text(opened->size, '\0');
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : 0;
            ::close(fd);
            return Error{path.string() + ": read error" + (err ? std::string(": ") + std::strerror(err) : std::string(" (file shrank)"))};
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return text;
}

}  // namespace superlens::core
