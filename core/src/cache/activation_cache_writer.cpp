// Writing side of the activation cache: copy-then-swap appends.
//
// The target is never opened for writing. The first appendRun() creates a
// temporary file beside the target (a byte copy of the old file when
// appending), HDF5 writes into that, and commit() renames it over the target
// after fsync. A kill at any point leaves either the old file or the complete
// new one under the target name; the temporary left behind is unlocked and
// swept by the next writer. Another writer may commit to the same target in
// between: commit() notices (file identity changed) and copies this writer's
// new runs onto the newer file instead of overwriting it ("rebase").

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "cache/cache_layout.h"
#include "cache/file_ops.h"
#include "cache/h5_util.h"
#include "superlens/core/cache/activation_cache.h"
#include "superlens/core/system/output_file.h"

namespace fs = std::filesystem;

namespace superlens::core {

using h5::Failure;
using h5::Handle;

struct ActivationCacheWriter::Impl {
    fs::path target;  // as given, for messages
    fs::path abs;     // absolute, for file operations
    fs::path folder;
    CacheModelInfo model;
    CacheWriteOptions options;
    bool targetExisted = false;
    std::optional<cachefs::FileIdentity> base;  // the file the temporary copies (nullopt: none)
    std::vector<CachedRunInfo> runs;
    std::vector<int> appended;
    std::optional<cachefs::TempFile> temp;
    Handle file;
    std::uint64_t rawBytes = 0;
    std::optional<cachelayout::RunGroup> open;  // a run begun and not yet finished
    bool failed = false;
    bool committed = false;

    std::string suffix() const { return targetExisted ? " (the existing file is unchanged)" : " (nothing was written)"; }
    Error error(const std::string& m) const { return Error{target.string() + ": " + m}; }

    template <class Fn>
    auto guarded(Fn&& step) -> decltype(step());

    // Closes the open run with its logits and lists it; starts the disk on
    // what is written so far when commit() will fsync, so its wait covers
    // only the tail.
    Result<int> finishOpenRun(const ActivationTensor* logits, double seconds) {
        if (logits) {
            const std::int64_t T = open->tokens;
            const auto& s = logits->shape;
            std::int64_t n = 1;
            for (auto dim : s) n *= dim;
            if (s.size() != 2 || s[0] != (open->info.allPositionLogits ? T : 1) || n != static_cast<std::int64_t>(logits->values.size())) {
                discardOpenRun();
                return error("cannot append the run: logits shape does not fit the run");
            }
        }
        CachedRunInfo info = cachelayout::finishRun(*open, logits, seconds, options.compression, rawBytes);
        open.reset();
        const int index = info.index;
        runs.push_back(std::move(info));
        appended.push_back(index);
        if (options.sync == CacheSync::Always || (options.sync == CacheSync::WhenReplacing && targetExisted)) {
            cachefs::startWriteback(temp->fd.get());
        }
        return index;
    }

    // Unlinks a run begun but not finished; the writer stays usable. When the
    // unlink itself fails the temporary is dropped instead.
    void discardOpenRun() {
        if (!open) return;
        const std::string path = open->path;
        open.reset();
        if (file.id() >= 0 && H5Ldelete(file, path.c_str(), H5P_DEFAULT) < 0) abandon();
    }

    // Drops the temporary; the target is untouched.
    void abandon() {
        // Give the space back first: on a full disk HDF5's closing flush can
        // then still succeed, and the file is released instead of lingering.
        if (temp) (void)::ftruncate(temp->fd.get(), 0);
        open.reset();
        file.reset();
        if (temp) {
            cachefs::removeQuietly(temp->path);
            temp.reset();
        }
        failed = true;
    }

    void checkModel(const cachelayout::Header& h) const {
        if (h.fingerprint != model.fingerprint) {
            throw Failure("holds activations of another model (fingerprint " + h.fingerprint + ", this model " + model.fingerprint +
                          "); write them to another file");
        }
    }

    void prepareTemp() {
        {
            cachefs::FolderLock lock(folder);
            temp = cachefs::createTemp(abs, lock);
        }
        if (targetExisted) {
            try {
                base = cachefs::copyInto(abs, temp->fd.get());
            } catch (const cachefs::FileError& e) {
                if (e.errorNumber() != ENOENT) throw;
                base.reset();  // removed since open(): start a new file
            }
        }
        if (base) {
            // Keep the old file's permissions.
            ::fchmod(temp->fd.get(), base->mode & 07777);
            file = cachelayout::openFile(temp->path, true);
            const auto header = cachelayout::readHeader(file, false);
            checkModel(header);
            const auto config = cachelayout::checkingConfig(header, &model);
            runs = cachelayout::readRuns(file, config ? &*config : nullptr);
            if (!cachelayout::hasVocab(file)) cachelayout::writeVocab(file, model);
        } else {
            runs.clear();
            Handle fapl = h5::fileAccessProps(true);
            file = h5::owned(H5Fcreate(temp->path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), H5Fclose, "cannot create the cache file");
            cachelayout::writeHeader(file, model);
            cachelayout::writeVocab(file, model);
        }
    }

    // Another writer replaced the target since our copy: copy our new runs
    // onto the current file. Called with the folder lock held.
    void rebase(const cachefs::FolderLock& lock, const cachefs::FileIdentity& current) {
        cachefs::TempFile merged = cachefs::createTemp(abs, lock);
        bool done = false;
        struct Cleanup {
            cachefs::TempFile& t;
            bool& done;
            ~Cleanup() {
                if (!done) cachefs::removeQuietly(t.path);
            }
        } cleanup{merged, done};
        cachefs::copyInto(abs, merged.fd.get());
        ::fchmod(merged.fd.get(), current.mode & 07777);
        std::vector<int> renumbered;
        std::vector<CachedRunInfo> mergedRuns;
        {
            Handle dst = cachelayout::openFile(merged.path, true);
            const auto header = cachelayout::readHeader(dst, false);
            checkModel(header);
            const auto config = cachelayout::checkingConfig(header, &model);
            mergedRuns = cachelayout::readRuns(dst, config ? &*config : nullptr);
            int next = mergedRuns.empty() ? 0 : mergedRuns.back().index + 1;
            Handle src = cachelayout::openFile(temp->path, false);
            for (int index : appended) {
                const std::string from = cachelayout::runPath(index);
                const std::string to = cachelayout::runPath(next);
                h5::check(H5Ocopy(src, from.c_str(), dst, to.c_str(), H5P_DEFAULT, H5P_DEFAULT), "cannot copy run " + from);
                auto it = std::find_if(runs.begin(), runs.end(), [&](const CachedRunInfo& r) { return r.index == index; });
                CachedRunInfo info = *it;
                info.index = next;
                mergedRuns.push_back(std::move(info));
                renumbered.push_back(next++);
            }
            if (!cachelayout::hasVocab(dst) && cachelayout::hasVocab(src)) {
                h5::check(H5Ocopy(src, "/vocab", dst, "/vocab", H5P_DEFAULT, H5P_DEFAULT), "cannot copy /vocab");
            }
            if (!src.close()) h5::fail("cannot close the temporary file");
            if (!dst.close()) h5::fail("cannot finish the cache file");
        }
        if (options.sync != CacheSync::Never) cachefs::fsyncFd(merged.fd.get(), merged.path.string());
        cachefs::renameOver(merged.path, abs);
        done = true;
        cachefs::removeQuietly(temp->path);
        appended = std::move(renumbered);
        runs = std::move(mergedRuns);
    }
};

ActivationCacheWriter::ActivationCacheWriter(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

ActivationCacheWriter::~ActivationCacheWriter() {
    std::lock_guard lock(h5::mutex());
    if (m_impl && !m_impl->committed) m_impl->abandon();
    m_impl.reset();
}

Result<std::unique_ptr<ActivationCacheWriter>> ActivationCacheWriter::open(const fs::path& target, const CacheModelInfo& model,
                                                                           const CacheWriteOptions& options) {
    h5::init();
    std::lock_guard lock(h5::mutex());
    auto impl = std::make_unique<Impl>();
    impl->target = target;
    impl->model = model;
    impl->options = options;
    // The rules every output follows (folder exists and is writable, not a
    // model folder, not a folder or special file) live in system/output_file.
    SL_TRY(checkOutputFile(target, "the cache"));
    std::error_code ec;
    // A symlink is followed: the rename replaces the file it points to (in
    // that file's folder), not the link.
    impl->abs = resolveOutputPath(target);
    impl->folder = impl->abs.parent_path();
    impl->targetExisted = fs::exists(fs::status(impl->abs, ec));
    try {
        {
            cachefs::FolderLock folderLock(impl->folder);
            cachefs::sweepStaleTemps(impl->abs, folderLock);
        }
        if (impl->targetExisted) {
            // Validate before any copy: a foreign or damaged file is refused up front.
            Handle f = cachelayout::openFile(impl->abs, false);
            const auto header = cachelayout::readHeader(f, false);
            impl->checkModel(header);
            const auto config = cachelayout::checkingConfig(header, &impl->model);
            impl->runs = cachelayout::readRuns(f, config ? &*config : nullptr);
        }
    } catch (const Failure& f) {
        return impl->error(std::string(f.what()) + (impl->targetExisted ? "; it was left unchanged" : ""));
    } catch (const cachefs::FileError& e) {
        return impl->error(e.what());
    }
    return std::unique_ptr<ActivationCacheWriter>(new ActivationCacheWriter(std::move(impl)));
}

const fs::path& ActivationCacheWriter::target() const { return m_impl->target; }
bool ActivationCacheWriter::targetExisted() const { return m_impl->targetExisted; }
const std::vector<CachedRunInfo>& ActivationCacheWriter::runs() const { return m_impl->runs; }

std::optional<int> ActivationCacheWriter::findRun(const CacheRunKey& key) const { return findMatchingRun(m_impl->runs, key); }

// Runs `step` under the HDF5 lock; a failure abandons the temporary (the
// target stays unchanged) and becomes one error naming the file.
template <class Fn>
auto ActivationCacheWriter::Impl::guarded(Fn&& step) -> decltype(step()) {
    try {
        return step();
    } catch (const Failure& f) {
        abandon();
        if (std::string(f.what()) == kCancelledMessage) return Error{kCancelledMessage};
        return error("cannot write the cache: " + std::string(f.what()) + suffix());
    } catch (const cachefs::FileError& e) {
        abandon();
        return error(std::string("cannot write the cache: ") + e.what() + suffix());
    } catch (const std::bad_alloc&) {
        abandon();
        return error("out of memory while writing the cache" + suffix());
    }
}

Result<int> ActivationCacheWriter::appendRun(const CaptureRun& run, const RunControl& control) {
    SL_TRY(beginRun(run));
    h5::init();
    std::lock_guard lock(h5::mutex());
    Impl& d = *m_impl;
    return d.guarded([&]() -> Result<int> {
        std::int64_t done = 0;
        const auto total = static_cast<std::int64_t>(run.hooks.size());
        // Execution order (as a streamed capture writes them), so a partially
        // listed file reads naturally in h5ls too.
        std::vector<std::pair<HookPoint, const std::string*>> order;
        for (const auto& [name, tensor] : run.hooks) order.emplace_back(*parseHookName(name), &name);
        std::sort(order.begin(), order.end());
        for (const auto& [point, name] : order) {
            if (control.isCancelled()) throw Failure(kCancelledMessage);
            cachelayout::writeRunHook(*d.open, *name, *run.hooks.at(*name), d.options.compression, d.rawBytes);
            control.progress(++done, total, "writing");
        }
        return d.finishOpenRun(run.logits.get(), run.seconds);
    });
}

Status ActivationCacheWriter::beginRun(const CaptureRun& header) {
    h5::init();
    std::lock_guard lock(h5::mutex());
    Impl& d = *m_impl;
    if (d.failed || d.committed) return d.error("this writer can no longer append (after an error or commit)");
    if (d.open) return d.error("a run is already being written");
    try {
        cachelayout::validateRun(header);
    } catch (const Failure& f) {
        return d.error(std::string("cannot append the run: ") + f.what());
    }
    return d.guarded([&]() -> Status {
        if (!d.temp) d.prepareTemp();
        const int index = d.runs.empty() ? 0 : std::max_element(d.runs.begin(), d.runs.end(), [](const auto& a, const auto& b) {
                                                   return a.index < b.index;
                                               })->index + 1;
        d.open = cachelayout::beginRun(d.file, index, header);
        return {};
    });
}

Status ActivationCacheWriter::appendHook(const std::string& name, const ActivationTensor& values) {
    h5::init();
    std::lock_guard lock(h5::mutex());
    Impl& d = *m_impl;
    if (!d.open) return d.error("no run is being written");
    try {
        cachelayout::validateHook(name, values, d.open->tokens);
    } catch (const Failure& f) {
        d.discardOpenRun();
        return d.error(std::string("cannot append the run: ") + f.what());
    }
    return d.guarded([&]() -> Status {
        cachelayout::writeRunHook(*d.open, name, values, d.options.compression, d.rawBytes);
        return {};
    });
}

Result<int> ActivationCacheWriter::finishRun(const ActivationTensor* logits, double seconds) {
    h5::init();
    std::lock_guard lock(h5::mutex());
    Impl& d = *m_impl;
    if (!d.open) return d.error("no run is being written");
    return d.guarded([&]() -> Result<int> { return d.finishOpenRun(logits, seconds); });
}

void ActivationCacheWriter::discardRun() {
    h5::init();
    std::lock_guard lock(h5::mutex());
    m_impl->discardOpenRun();
}

Result<ActivationCacheWriter::CommitInfo> ActivationCacheWriter::commit() {
    h5::init();
    std::lock_guard lock(h5::mutex());
    Impl& d = *m_impl;
    if (d.failed) return d.error("cannot commit after an error" + d.suffix());
    if (d.committed) return d.error("already committed");
    CommitInfo info;
    try {
        if (!d.temp && d.targetExisted && fs::exists(d.abs)) {
            // Everything was reused: the file stays exactly as it was.
            d.committed = true;
            info.fileBytes = fs::file_size(d.abs);
            return info;
        }
        if (!d.temp) d.prepareTemp();  // a new, empty cache
        // Closing flushes metadata: a full disk often shows up only here.
        if (!d.file.close()) h5::fail("cannot finish the file");
        {
            cachefs::FolderLock lock(d.folder);
            const auto current = cachefs::identityOf(d.abs);
            const bool sync = d.options.sync == CacheSync::Always || (d.options.sync == CacheSync::WhenReplacing && current);
            if (current && !(d.base && *current == *d.base)) {
                d.rebase(lock, *current);
                info.rebased = true;
            } else {
                if (sync) cachefs::fsyncFd(d.temp->fd.get(), d.temp->path.string());
                cachefs::renameOver(d.temp->path, d.abs);
            }
            if (sync) cachefs::fsyncFolder(d.folder);
        }
        d.temp.reset();  // releases the lock marking the temporary as alive
        d.committed = true;
        info.appendedRuns = d.appended;
        info.rawBytes = d.rawBytes;
        info.wroteFile = true;
        info.fileBytes = fs::file_size(d.abs);
        return info;
    } catch (const Failure& f) {
        d.abandon();
        return d.error("cannot write the cache: " + std::string(f.what()) + d.suffix());
    } catch (const cachefs::FileError& e) {
        d.abandon();
        return d.error(std::string("cannot write the cache: ") + e.what() + d.suffix());
    } catch (const fs::filesystem_error& e) {
        d.abandon();
        return d.error(std::string("cannot write the cache: ") + e.what() + d.suffix());
    }
}

Result<CaptureOutcome> captureRun(ActivationCacheWriter& writer, Engine& engine, const ForwardRequest& request, const std::string& prompt,
                                  const Tokenizer* tokenizer, const RunControl& control) {
    CaptureOutcome out;
    if (const auto hit = writer.findRun(CacheRunKey::forRequest(request, engine))) {
        out.run = *hit;
        out.reused = true;
        return out;
    }
    // Each hook goes to the file as the engine produces it (HookSink), so
    // memory holds one hook at a time whatever the selection.
    ForwardResult shape;
    shape.tokens = request.tokens;
    shape.edits = request.edits;
    shape.precision = engine.options().precision;
    shape.compute = engine.options().compute;
    shape.allPositionLogits = request.allPositionLogits;
    if (request.pixels) {
        const ModelConfig& c = engine.model().config();
        shape.pixels = request.pixels;
        shape.positions = inputPositions(c, request.tokens, request.pixels.get());
        shape.registers = c.numRegisters;
        shape.patchGridWidth = c.patchSize > 0 ? request.pixels->width / c.patchSize : 0;
    }
    SL_TRY(writer.beginRun(CaptureRun::fromResult(shape, prompt, tokenizer, request.record.patternList())));
    struct ToFile final : HookSink {
        ActivationCacheWriter& writer;
        const RunControl& control;
        ToFile(ActivationCacheWriter& w, const RunControl& c) : writer(w), control(c) {}
        Status consume(HookPoint point, const ActivationTensor& values) override {
            if (control.isCancelled()) return Error{kCancelledMessage};
            return writer.appendHook(hookName(point), values);
        }
    } sink(writer, control);
    ForwardRequest streamed = request;
    streamed.sink = &sink;
    auto result = engine.run(streamed, control);
    if (!result) {
        writer.discardRun();
        return result.error();
    }
    auto index = writer.finishRun((*result)->logits.values.empty() ? nullptr : &(*result)->logits, (*result)->seconds);
    if (!index) return index.error();
    out.run = *index;
    out.result = std::move(result).value();
    return out;
}

}  // namespace superlens::core
