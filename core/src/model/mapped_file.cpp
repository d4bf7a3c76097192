#include "superlens/core/model/mapped_file.h"

#include <cerrno>
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

}  // namespace

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::filesystem::path& path) {
    auto opened = openRegular(path);
    if (!opened) return opened.error();
    const int fd = opened->fd;
    auto file = std::shared_ptr<MappedFile>(new MappedFile());
    file->m_path = path;
    file->m_size = opened->size;
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
