#include "cache/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

namespace fs = std::filesystem;

namespace superlens::core::cachefs {

namespace {

[[noreturn]] void throwErrno(const std::string& what, int err) { throw FileError(what + ": " + errnoText(err), err); }

FileIdentity fromStat(const struct stat& st) {
    FileIdentity id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    id.mode = st.st_mode;
    return id;
}

}  // namespace

std::string errnoText(int err) {
    if (err == ENOSPC || err == EDQUOT) return "no space left on device";
    if (err == EFBIG) return "file too large for this file system or process limit";
    return std::strerror(err);
}

std::optional<FileIdentity> identityOf(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::nullopt;
        throwErrno("cannot inspect " + p.string(), errno);
    }
    return fromStat(st);
}

FileIdentity identityOf(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) throwErrno("cannot inspect a file", errno);
    return fromStat(st);
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        reset();
        m_fd = o.m_fd;
        o.m_fd = -1;
    }
    return *this;
}

Fd::~Fd() { reset(); }

void Fd::reset() {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
}

FolderLock::FolderLock(const fs::path& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throwErrno("cannot open folder " + folder.string(), errno);
    m_fd = Fd(fd);
    // Blocking: other holders only keep it for a rename or a sweep.
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) throwErrno("cannot lock folder " + folder.string(), errno);
    }
}

std::string tempPrefix(const fs::path& target) {
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "." + string.
    std::string prefix(1, '.');
    prefix += target.filename().string();
    prefix += ".tmp-";
    return prefix;
}

TempFile createTemp(const fs::path& target, const FolderLock&) {
    // Our own O_EXCL loop rather than mkstemp: the file gets mode 0666 minus
    // the umask, as any newly created file would.
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
        std::string name = tempPrefix(target);
        for (int i = 0; i < 6; ++i) name += kAlphabet[rd() % (sizeof kAlphabet - 1)];
        const fs::path p = target.parent_path() / name;
        const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            throwErrno("cannot create a temporary file in " + target.parent_path().string(), errno);
        }
        TempFile t{p, Fd(fd)};
        // Marks the temporary as alive (the folder lock is held, so no sweep
        // can see it unlocked between open and here).
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            const int err = errno;
            ::unlink(p.c_str());
            throwErrno("cannot lock " + p.string(), err);
        }
        return t;
    }
    throw FileError("cannot create a temporary file in " + target.parent_path().string() + ": too many name collisions", EEXIST);
}

int sweepStaleTemps(const fs::path& target, const FolderLock&) {
    const std::string prefix = tempPrefix(target);
    const fs::path folder = target.parent_path();
    DIR* dir = ::opendir(folder.c_str());
    if (!dir) return 0;
    std::vector<fs::path> candidates;
    while (const dirent* e = ::readdir(dir)) {
        const std::string name = e->d_name;
        if (name.size() == prefix.size() + 6 && name.compare(0, prefix.size(), prefix) == 0) candidates.push_back(folder / name);
    }
    ::closedir(dir);
    int removed = 0;
    for (const auto& p : candidates) {
        const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) continue;
        // A live writer holds LOCK_EX on its temporary; a killed one's lock is gone.
        if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
            if (::unlink(p.c_str()) == 0) ++removed;
        }
        ::close(fd);
    }
    return removed;
}

FileIdentity copyInto(const fs::path& from, int toFd) {
    const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) throwErrno("cannot open " + from.string(), errno);
    Fd inFd(in);
    const FileIdentity id = identityOf(in);
    // Copy-on-write clone first (btrfs, xfs): instant and takes no space.
    if (::ioctl(toFd, FICLONE, in) == 0) return id;
    off_t remaining = id.size;
    bool useCopyRange = true;
    std::vector<char> buf;
    while (remaining > 0) {
        ssize_t n = -1;
        if (useCopyRange) {
            n = ::copy_file_range(in, nullptr, toFd, nullptr, static_cast<std::size_t>(std::min<off_t>(remaining, off_t{1} << 30)), 0);
            if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)) {
                useCopyRange = false;
                continue;
            }
        } else {
            if (buf.empty()) buf.resize(std::size_t{1} << 20);
            n = ::read(in, buf.data(), buf.size());
            if (n > 0) {
                ssize_t done = 0;
                while (done < n) {
                    const ssize_t w = ::write(toFd, buf.data() + done, static_cast<std::size_t>(n - done));
                    if (w < 0) {
                        if (errno == EINTR) continue;
                        throwErrno("cannot copy " + from.string(), errno);
                    }
                    done += w;
                }
            }
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            throwErrno("cannot copy " + from.string(), errno);
        }
        if (n == 0) break;  // the source shrank meanwhile: the identity check at commit catches it
        remaining -= n;
    }
    return id;
}

void fsyncFd(int fd, const std::string& what) {
    if (::fsync(fd) != 0) throwErrno("cannot sync " + what, errno);
}

void startWriteback(int fd) { (void)::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE); }

void fsyncFolder(const fs::path& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throwErrno("cannot open folder " + folder.string(), errno);
    Fd guard(fd);
    // Some file systems refuse fsync on folders (EINVAL); the rename is still atomic.
    if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) throwErrno("cannot sync folder " + folder.string(), errno);
}

void renameOver(const fs::path& from, const fs::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) throwErrno("cannot rename " + from.string() + " to " + to.string(), errno);
}

void removeQuietly(const fs::path& p) {
    if (!p.empty()) ::unlink(p.c_str());
}

std::optional<int> hdf5SuperblockVersion(const fs::path& p) {
    static constexpr unsigned char kSig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return std::nullopt;
    Fd guard(fd);
    const FileIdentity id = identityOf(fd);
    // The superblock may follow a user block of 512 * 2^k bytes.
    for (off_t off = 0; off + 8 <= id.size; off = off == 0 ? 512 : off * 2) {
        unsigned char b[9];
        const ssize_t got = ::pread(fd, b, 9, off);
        if (got < 8) return std::nullopt;
        if (std::memcmp(b, kSig, 8) == 0) return got == 9 ? b[8] : -1;
    }
    return std::nullopt;
}

}  // namespace superlens::core::cachefs
