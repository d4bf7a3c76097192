#pragma once
// Thin RAII and error plumbing over the HDF5 C API, private to core/cache.
//
// Inside the cache module HDF5 failures throw h5::Failure (a short
// description plus HDF5's innermost error message); the public functions
// catch it at the module edge and return an Error naming the file. HDF5's
// automatic error printing is switched off for the process (h5::init()).

#include <hdf5.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace superlens::core::h5 {

// Switches off HDF5's error printing (once per process).
void init();

// HDF5 is built thread-safe on Debian, but one lock for the module keeps
// reader/writer objects on different threads from interleaving error stacks.
std::recursive_mutex& mutex();

enum class FailureKind { Other, NoSpace, FileTooLarge };

class Failure : public std::runtime_error {
public:
    Failure(const std::string& what, FailureKind kind = FailureKind::Other) : std::runtime_error(what), m_kind(kind) {}
    FailureKind kind() const { return m_kind; }

private:
    FailureKind m_kind;
};

// Builds a Failure from the current HDF5 error stack ("<what>: <innermost
// HDF5 message>"), classifying ENOSPC / EFBIG, and clears the stack.
[[noreturn]] void fail(const std::string& what);
// Throws unless status >= 0.
inline void check(herr_t status, const std::string& what) {
    if (status < 0) fail(what);
}

// An owned hid_t, closed with the matching H5?close.
class Handle {
public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : m_id(id), m_closer(closer) {}
    Handle(Handle&& o) noexcept : m_id(o.m_id), m_closer(o.m_closer) { o.m_id = -1; }
    Handle& operator=(Handle&& o) noexcept {
        if (this != &o) {
            reset();
            m_id = o.m_id;
            m_closer = o.m_closer;
            o.m_id = -1;
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    hid_t id() const { return m_id; }
    operator hid_t() const { return m_id; }
    bool valid() const { return m_id >= 0; }
    // Closes now and reports whether HDF5 accepted the close (flush errors show here).
    bool close();
    void reset();

private:
    hid_t m_id = -1;
    Closer m_closer = nullptr;
};

// Checked constructors (throw Failure with `what` when HDF5 returns < 0).
Handle owned(hid_t id, Handle::Closer closer, const std::string& what);
// sec2 driver, no HDF5 file locking, strong close; for writing also the 1.8
// object formats (checksummed superblock and object headers).
Handle fileAccessProps(bool forWriting);
// Fixed-length UTF-8 string of `bytes` bytes (NUL-padded). Our files use
// fixed-length strings only: variable-length ones live in HDF5's global heap,
// which has no checksum, and libhdf5 1.10 crashes on a damaged one.
Handle fixedUtf8Type(std::size_t bytes);

bool exists(hid_t loc, const std::string& name);  // link exists (no error when absent)
bool hasAttribute(hid_t obj, const std::string& name);

void writeStringAttr(hid_t obj, const std::string& name, const std::string& value);
void writeInt64Attr(hid_t obj, const std::string& name, std::int64_t value);
void writeInt32Attr(hid_t obj, const std::string& name, std::int32_t value);
void writeDoubleAttr(hid_t obj, const std::string& name, double value);
// Readers accept variable- and fixed-length strings and any integer/float type.
std::string readStringAttr(hid_t obj, const std::string& name);
std::int64_t readInt64Attr(hid_t obj, const std::string& name);
double readDoubleAttr(hid_t obj, const std::string& name);

std::vector<std::int64_t> datasetShape(hid_t dataset);
void writeStringDataset(hid_t loc, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> readStringDataset(hid_t loc, const std::string& name);
void writeInt32Dataset(hid_t loc, const std::string& name, const std::vector<std::int32_t>& values);
// Before a dataset is read whole: the bytes its shape declares (elements x
// the stored element size, overflow-checked) must be backed by storage in the
// file (at most 1100 x the storage, gzip's largest ratio being 1032), so a
// damaged shape cannot make the reader allocate terabytes. Throws Failure
// naming `what`.
void checkDeclaredSize(hid_t dataset, std::uint64_t elements, const std::string& what);
std::vector<std::int32_t> readInt32Dataset(hid_t loc, const std::string& name);

// Names of the links in a group, in name order. At most kMaxGroupLinks
// links of at most kMaxLinkNameBytes each (a cache's run holds a few
// hundred hooks); more is refused as damage.
inline constexpr hsize_t kMaxGroupLinks = 1'000'000;
inline constexpr ssize_t kMaxLinkNameBytes = 4096;
std::vector<std::string> linkNames(hid_t group);

}  // namespace superlens::core::h5
