#pragma once
// POSIX file plumbing for the cache writer: temporary files beside the
// target, copying, fsync, the folder lock and file identities. Failures throw
// FileError (message without the file name prefix; errno kept for ENOSPC).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace superlens::core::cachefs {

class FileError : public std::runtime_error {
public:
    FileError(const std::string& what, int err) : std::runtime_error(what), m_errno(err) {}
    int errorNumber() const { return m_errno; }

private:
    int m_errno;
};

// errno as a message; the same words as HDF5 failures for ENOSPC / EFBIG.
std::string errnoText(int err);

// A file's identity: a rename over the target or an in-place change shows up here.
struct FileIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    std::int64_t mtimeNs = 0;
    mode_t mode = 0;
    bool operator==(const FileIdentity& o) const {
        return dev == o.dev && ino == o.ino && size == o.size && mtimeNs == o.mtimeNs;
    }
};
std::optional<FileIdentity> identityOf(const std::filesystem::path& p);  // nullopt when absent
FileIdentity identityOf(int fd);

// An owned file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& o) noexcept : m_fd(o.m_fd) { o.m_fd = -1; }
    Fd& operator=(Fd&& o) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    int get() const { return m_fd; }
    bool valid() const { return m_fd >= 0; }
    void reset();

private:
    int m_fd = -1;
};

// Exclusive lock on a folder (flock on its descriptor), held for short
// critical sections: creating temporaries, sweeping stale ones, renaming.
class FolderLock {
public:
    explicit FolderLock(const std::filesystem::path& folder);
    int fd() const { return m_fd.get(); }

private:
    Fd m_fd;
};

// A temporary file ".<target name>.tmp-XXXXXX" beside the target, created
// empty and held under an exclusive flock for as long as the writer lives,
// which marks it as in use (a sweep only removes unlocked ones).
struct TempFile {
    std::filesystem::path path;
    Fd fd;
};
TempFile createTemp(const std::filesystem::path& target, const FolderLock& held);
// Removes temporaries of `target` left by killed writers (unlocked ones).
int sweepStaleTemps(const std::filesystem::path& target, const FolderLock& held);
std::string tempPrefix(const std::filesystem::path& target);

// Copies all bytes of `from` into `toFd` (empty, at offset 0): reflink when
// the file system can, else copy_file_range/read-write. Returns the source's
// identity as seen by the open descriptor.
FileIdentity copyInto(const std::filesystem::path& from, int toFd);

void fsyncFd(int fd, const std::string& what);
// Asks the kernel to start writing a file's dirty pages now (no waiting).
void startWriteback(int fd);
void fsyncFolder(const std::filesystem::path& folder);
void renameOver(const std::filesystem::path& from, const std::filesystem::path& to);
void removeQuietly(const std::filesystem::path& p);

// The version byte of the HDF5 superblock (the byte after HDF5's signature,
// found at offset 0, 512, 1024, ...); -1 when the file ends right after the
// signature; nullopt when the file has no signature or cannot be read.
std::optional<int> hdf5SuperblockVersion(const std::filesystem::path& p);

}  // namespace superlens::core::cachefs
