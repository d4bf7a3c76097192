#include "superlens/core/system/output_file.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace superlens::core {
namespace fs = std::filesystem;

namespace {

// config.json beside weights: a Hugging Face checkpoint.
bool isCheckpointFolder(const fs::path& folder) {
    std::error_code ec;
    if (!fs::is_regular_file(folder / "config.json", ec)) return false;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        const std::string name = e.path().filename().string();
        const auto endsWith = [&](std::string_view s) { return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0; };
        if (endsWith(".safetensors") || name == "model.safetensors.index.json" || name == "pytorch_model.bin" ||
            name == "pytorch_model.bin.index.json" || endsWith(".gguf")) {
            return true;
        }
    }
    return false;
}

}  // namespace

bool isModelFolder(const fs::path& folder) {
    if (isCheckpointFolder(folder)) return true;
    // A GGUF file is a model by itself: its folder is a model folder too.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) {
        if (e.path().extension() == ".gguf") return true;
    }
    return false;
}

fs::path enclosingModelFolder(const fs::path& folder) {
    if (isModelFolder(folder)) return folder;
    // Inside a checkpoint's subfolders too (MODEL/original/, MODEL/sub/); a
    // GGUF file only makes its own folder one (a folder of downloads that
    // holds a .gguf file does not make everything below it a model).
    for (fs::path f = folder.parent_path(); !f.empty(); f = f.parent_path()) {
        if (isCheckpointFolder(f)) return f;
        if (f == f.parent_path()) break;
    }
    return {};
}

namespace {

Error fail(const fs::path& target, const std::string& m) { return Error{target.string() + ": " + m}; }

}  // namespace

fs::path resolveOutputPath(const fs::path& target) {
    std::error_code ec;
    fs::path abs = fs::absolute(target, ec).lexically_normal();
    if (ec || abs.filename().empty()) return {};
    for (int hops = 0; fs::is_symlink(fs::symlink_status(abs, ec)); ++hops) {
        if (hops == 40) return {};  // a loop of links
        const fs::path to = fs::read_symlink(abs, ec);
        if (ec) return {};
        abs = (to.is_absolute() ? to : abs.parent_path() / to).lexically_normal();
    }
    fs::path real = fs::weakly_canonical(abs, ec);
    return ec ? fs::path() : real;
}

Status checkOutputFile(const fs::path& target, std::string_view what) {
    std::error_code ec;
    const fs::path plain = fs::absolute(target, ec).lexically_normal();
    if (ec || plain.filename().empty()) return fail(target, "is not a file name");
    const fs::path abs = resolveOutputPath(target);  // the rename replaces the file a link points to
    if (abs.empty()) return fail(target, "cannot resolve the path (a loop of symbolic links?)");
    const fs::path folder = abs.parent_path();
    if (!fs::is_directory(folder, ec)) return fail(target, "folder " + folder.string() + " does not exist");
    if (const fs::path model = enclosingModelFolder(folder); !model.empty()) {
        return fail(target, "refusing to write into the model folder " + model.string() + " (model folders stay read-only; put " + std::string(what) +
                                " elsewhere)");
    }
    if (::access(folder.c_str(), W_OK) != 0) return fail(target, "folder " + folder.string() + " is not writable");
    const auto status = fs::status(abs, ec);
    if (fs::exists(status)) {
        if (fs::is_directory(status)) return fail(target, "is a folder");
        if (!fs::is_regular_file(status)) return fail(target, "is not a regular file");
    }
    return {};
}

Result<fs::path> makeTemporaryBeside(const fs::path& target) {
    const fs::path abs = resolveOutputPath(target);
    if (abs.empty()) return fail(target, "cannot resolve the path");
    const std::string ext = abs.extension().string();
    std::string pattern = (abs.parent_path() / ("." + abs.stem().string() + ".tmp-XXXXXX" + ext)).string();
    const int fd = ::mkstemps(pattern.data(), static_cast<int>(ext.size()));
    if (fd < 0) return fail(target, std::string("cannot create a temporary file beside it: ") + std::strerror(errno));
    ::close(fd);
    return fs::path(pattern);
}

Status commitTemporary(const fs::path& temporary, const fs::path& target) {
    std::error_code ec;
    const fs::path abs = resolveOutputPath(target);
    if (abs.empty()) {
        fs::remove(temporary, ec);
        return fail(target, "cannot resolve the path");
    }
    // Flush the data before the rename makes it visible under the final name.
    const int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    if (fd >= 0) ::close(fd);
    if (!synced || ::rename(temporary.c_str(), abs.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        fs::remove(temporary, ec);
        return fail(target, "cannot write: " + why);
    }
    return {};
}

Status writeFileAtomically(const fs::path& target, std::string_view bytes, std::string_view what) {
    SL_TRY(checkOutputFile(target, what));
    auto tmp = makeTemporaryBeside(target);
    if (!tmp) return tmp.error();
    const int fd = ::open(tmp->c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    bool ok = fd >= 0;
    std::size_t done = 0;
    while (ok && done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) done += static_cast<std::size_t>(n);
    }
    const std::string why = ok ? std::string() : std::strerror(errno);
    if (fd >= 0) ::close(fd);
    if (!ok) {
        std::error_code ec;
        fs::remove(*tmp, ec);
        return fail(target, "cannot write: " + why);
    }
    return commitTemporary(*tmp, target);
}

}  // namespace superlens::core
