#include "cache/h5_util.h"

#include "cache/file_ops.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>

namespace superlens::core::h5 {

void init() {
    static std::once_flag s_once;
    std::call_once(s_once, [] {
        // No cleanup at exit: after a failed close (a full disk during the
        // final flush) libhdf5 1.10 keeps a half-closed file that its exit
        // handler dereferences and crashes on. Every file we open is closed
        // explicitly, so the exit handler has nothing to flush anyway.
        H5dont_atexit();
        H5open();
        // HDF5 prints its whole error stack to stderr by default; we report
        // one line ourselves instead (DESIGN.md: one clear error line).
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    });
    // The automatic printer is per thread in a thread-safe build: switch it
    // off for whichever thread calls us.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::recursive_mutex& mutex() {
    static std::recursive_mutex s_mutex;
    return s_mutex;
}

namespace {

struct StackWalk {
    std::vector<std::string> messages;
};

herr_t collect(unsigned, const H5E_error2_t* err, void* data) {
    auto* walk = static_cast<StackWalk*>(data);
    if (err && err->desc && *err->desc) walk->messages.emplace_back(err->desc);
    return 0;
}

// HDF5's sec2 driver writes "errno = 28, error message = '...'" into the
// innermost message of a failed read or write.
int errnoInMessages(const std::vector<std::string>& messages) {
    for (const auto& m : messages) {
        const auto pos = m.find("errno = ");
        if (pos == std::string::npos) continue;
        return std::atoi(m.c_str() + pos + 8);
    }
    return 0;
}

}  // namespace

void fail(const std::string& what) {
    StackWalk walk;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect, &walk);
    H5Eclear2(H5E_DEFAULT);
    const int err = errnoInMessages(walk.messages);
    if (err == ENOSPC || err == EDQUOT) throw Failure(what + ": " + cachefs::errnoText(err), FailureKind::NoSpace);
    if (err == EFBIG) throw Failure(what + ": " + cachefs::errnoText(err), FailureKind::FileTooLarge);
    if (err != 0) throw Failure(what + ": " + cachefs::errnoText(err));
    std::string detail;
    if (!walk.messages.empty()) {
        detail = walk.messages.back();
        // Keep the report one readable line.
        if (detail.size() > 160) detail = detail.substr(0, 157) + "...";
    }
    throw Failure(detail.empty() ? what : what + " (" + detail + ")");
}

bool Handle::close() {
    if (m_id < 0) return true;
    const herr_t s = m_closer(m_id);
    m_id = -1;
    return s >= 0;
}

void Handle::reset() {
    if (m_id >= 0) {
        m_closer(m_id);
        H5Eclear2(H5E_DEFAULT);
    }
    m_id = -1;
}

Handle owned(hid_t id, Handle::Closer closer, const std::string& what) {
    if (id < 0) fail(what);
    return Handle(id, closer);
}

Handle fileAccessProps(bool forWriting) {
    Handle fapl = owned(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "cannot create file access properties");
    check(H5Pset_fapl_sec2(fapl), "cannot select the sec2 driver");
    // Cache files are never modified in place (writers rename a new file over
    // the old one), so HDF5's flock is unnecessary; our own lock on the
    // temporary file would otherwise conflict with it.
    check(H5Pset_file_locking(fapl, false, true), "cannot configure file locking");
    // 1.8 object formats: checksummed superblock and object headers, so a
    // damaged file is detected at open; readable by HDF5 >= 1.8 (h5py).
    if (forWriting) check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110), "cannot set format bounds");
    check(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "cannot set the close degree");
    return fapl;
}

Handle fixedUtf8Type(std::size_t bytes) {
    Handle t = owned(H5Tcopy(H5T_C_S1), H5Tclose, "cannot create a string type");
    check(H5Tset_size(t, std::max<std::size_t>(bytes, 1)), "cannot create a string type");
    check(H5Tset_strpad(t, H5T_STR_NULLPAD), "cannot create a string type");
    check(H5Tset_cset(t, H5T_CSET_UTF8), "cannot create a string type");
    return t;
}

namespace {
// Null-padded strings lose their trailing NULs; null-terminated ones end at the first.
void trimFixed(std::string& s, H5T_str_t pad) {
    if (pad == H5T_STR_NULLTERM) {
        const auto end = s.find('\0');
        if (end != std::string::npos) s.resize(end);
        return;
    }
    while (!s.empty() && (s.back() == '\0' || (pad == H5T_STR_SPACEPAD && s.back() == ' '))) s.pop_back();
}

// HDF5 converts no character sets: read ASCII strings (h5py bytes, C tools)
// as ASCII and UTF-8 ones as UTF-8.
Handle vlenStringLike(hid_t fileType) {
    Handle t = owned(H5Tcopy(H5T_C_S1), H5Tclose, "cannot create a string type");
    check(H5Tset_size(t, H5T_VARIABLE), "cannot create a string type");
    const H5T_cset_t cset = H5Tget_cset(fileType);
    check(H5Tset_cset(t, cset == H5T_CSET_UTF8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), "cannot create a string type");
    return t;
}
}  // namespace

bool exists(hid_t loc, const std::string& name) {
    const htri_t e = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

bool hasAttribute(hid_t obj, const std::string& name) {
    const htri_t e = H5Aexists(obj, name.c_str());
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

namespace {

void writeScalarAttr(hid_t obj, const std::string& name, hid_t fileType, hid_t memType, const void* value) {
    if (hasAttribute(obj, name)) check(H5Adelete(obj, name.c_str()), "cannot replace attribute '" + name + "'");
    Handle space = owned(H5Screate(H5S_SCALAR), H5Sclose, "cannot create a dataspace");
    Handle attr = owned(H5Acreate2(obj, name.c_str(), fileType, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                        "cannot create attribute '" + name + "'");
    check(H5Awrite(attr, memType, value), "cannot write attribute '" + name + "'");
    if (!attr.close()) fail("cannot write attribute '" + name + "'");
}

Handle openAttr(hid_t obj, const std::string& name) {
    if (!hasAttribute(obj, name)) throw Failure("missing attribute '" + name + "'");
    return owned(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "cannot open attribute '" + name + "'");
}

void requireScalarOrSingle(hid_t attr, const std::string& name) {
    Handle space = owned(H5Aget_space(attr), H5Sclose, "cannot read attribute '" + name + "'");
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n != 1) throw Failure("attribute '" + name + "' is not a single value");
}

}  // namespace

void writeStringAttr(hid_t obj, const std::string& name, const std::string& value) {
    // Fixed-length: the bytes live in the (checksummed) object header, not in
    // HDF5's unchecksummed global heap, whose damage crashes libhdf5 1.10.
    Handle t = fixedUtf8Type(value.size());
    std::string padded = value;
    if (padded.empty()) padded.push_back('\0');
    writeScalarAttr(obj, name, t, t, padded.data());
}

void writeInt64Attr(hid_t obj, const std::string& name, std::int64_t value) {
    writeScalarAttr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void writeInt32Attr(hid_t obj, const std::string& name, std::int32_t value) {
    writeScalarAttr(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT32, &value);
}

void writeDoubleAttr(hid_t obj, const std::string& name, double value) {
    writeScalarAttr(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

std::string readStringAttr(hid_t obj, const std::string& name) {
    Handle attr = openAttr(obj, name);
    requireScalarOrSingle(attr, name);
    Handle ftype = owned(H5Aget_type(attr), H5Tclose, "cannot read attribute '" + name + "'");
    if (H5Tget_class(ftype) != H5T_STRING) throw Failure("attribute '" + name + "' is not a string");
    const htri_t isVar = H5Tis_variable_str(ftype);
    if (isVar < 0) fail("cannot read attribute '" + name + "'");
    if (isVar > 0) {
        Handle mt = vlenStringLike(ftype);
        char* p = nullptr;
        check(H5Aread(attr, mt, &p), "cannot read attribute '" + name + "'");
        std::string out = p ? p : "";
        H5free_memory(p);
        return out;
    }
    // Fixed-length strings (ours): read the raw bytes.
    const std::size_t size = H5Tget_size(ftype);
    Handle mt = owned(H5Tcopy(ftype), H5Tclose, "cannot read attribute '" + name + "'");
    std::string buf(size, '\0');
    check(H5Aread(attr, mt, buf.data()), "cannot read attribute '" + name + "'");
    trimFixed(buf, H5Tget_strpad(ftype));
    return buf;
}

std::int64_t readInt64Attr(hid_t obj, const std::string& name) {
    Handle attr = openAttr(obj, name);
    requireScalarOrSingle(attr, name);
    Handle ftype = owned(H5Aget_type(attr), H5Tclose, "cannot read attribute '" + name + "'");
    if (H5Tget_class(ftype) != H5T_INTEGER) throw Failure("attribute '" + name + "' is not an integer");
    std::int64_t v = 0;
    check(H5Aread(attr, H5T_NATIVE_INT64, &v), "cannot read attribute '" + name + "'");
    return v;
}

double readDoubleAttr(hid_t obj, const std::string& name) {
    Handle attr = openAttr(obj, name);
    requireScalarOrSingle(attr, name);
    Handle ftype = owned(H5Aget_type(attr), H5Tclose, "cannot read attribute '" + name + "'");
    const H5T_class_t c = H5Tget_class(ftype);
    if (c != H5T_FLOAT && c != H5T_INTEGER) throw Failure("attribute '" + name + "' is not a number");
    double v = 0;
    check(H5Aread(attr, H5T_NATIVE_DOUBLE, &v), "cannot read attribute '" + name + "'");
    return v;
}

std::vector<std::int64_t> datasetShape(hid_t dataset) {
    Handle space = owned(H5Dget_space(dataset), H5Sclose, "cannot read a dataspace");
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) fail("cannot read a dataspace");
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    if (rank > 0 && H5Sget_simple_extent_dims(space, dims.data(), nullptr) < 0) fail("cannot read a dataspace");
    return {dims.begin(), dims.end()};
}

namespace {
// Creation properties of a one-dimensional dataset of n elements: chunks of
// `chunk` elements (n > 0), gzip when asked, then a Fletcher-32 checksum per
// chunk (the last filter, over the stored bytes), so a damaged byte of the
// values is reported by the read instead of returned.
Handle checksummedProps(hsize_t n, hsize_t chunk, bool gzip, const std::string& name) {
    Handle dcpl = owned(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "cannot create dataset properties");
    check(H5Pset_obj_track_times(dcpl, false), "cannot set dataset properties");
    if (n > 0) {
        check(H5Pset_chunk(dcpl, 1, &chunk), "cannot set the chunk shape of " + name);
        if (gzip) check(H5Pset_deflate(dcpl, 1), "cannot enable gzip compression");
        check(H5Pset_fletcher32(dcpl), "cannot enable the Fletcher-32 checksum");
    }
    return dcpl;
}
}  // namespace

void writeStringDataset(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
    std::size_t width = 1;
    for (const auto& v : values) width = std::max(width, v.size());
    Handle t = fixedUtf8Type(width);
    const hsize_t n = values.size();
    Handle space = owned(H5Screate_simple(1, &n, nullptr), H5Sclose, "cannot create a dataspace");
    // Long lists (a vocabulary) padded to their longest entry: gzip removes
    // the padding cheaply.
    const hsize_t chunk = std::max<hsize_t>(1, std::min<hsize_t>(n, (256 * 1024) / width));
    Handle dcpl = checksummedProps(n, chunk, n * width > 64 * 1024, name);
    Handle ds = owned(H5Dcreate2(loc, name.c_str(), t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose,
                      "cannot create dataset '" + name + "'");
    std::string buf(static_cast<std::size_t>(n) * width, '\0');
    for (std::size_t i = 0; i < values.size(); ++i) std::copy(values[i].begin(), values[i].end(), buf.begin() + static_cast<std::ptrdiff_t>(i * width));
    if (n > 0) check(H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "cannot write dataset '" + name + "'");
    if (!ds.close()) fail("cannot write dataset '" + name + "'");
}

std::vector<std::string> readStringDataset(hid_t loc, const std::string& name) {
    Handle ds = owned(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose, "cannot open dataset '" + name + "'");
    Handle ftype = owned(H5Dget_type(ds), H5Tclose, "cannot read dataset '" + name + "'");
    if (H5Tget_class(ftype) != H5T_STRING) throw Failure("dataset '" + name + "' does not hold strings");
    const auto shape = datasetShape(ds);
    if (shape.size() != 1) throw Failure("dataset '" + name + "' is not a list of strings");
    checkDeclaredSize(ds, static_cast<std::uint64_t>(shape[0]), "dataset '" + name + "'");
    const auto n = static_cast<std::size_t>(shape[0]);
    std::vector<std::string> out;
    out.reserve(n);
    if (n == 0) return out;
    const htri_t isVar = H5Tis_variable_str(ftype);
    if (isVar < 0) fail("cannot read dataset '" + name + "'");
    if (isVar > 0) {
        Handle mt = vlenStringLike(ftype);
        std::vector<char*> ptrs(n, nullptr);
        check(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "cannot read dataset '" + name + "'");
        for (char* p : ptrs) out.emplace_back(p ? p : "");
        Handle space = owned(H5Dget_space(ds), H5Sclose, "cannot read dataset '" + name + "'");
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, ptrs.data());
        return out;
    }
    const std::size_t size = H5Tget_size(ftype);
    Handle mt = owned(H5Tcopy(ftype), H5Tclose, "cannot read dataset '" + name + "'");
    std::string buf(size * n, '\0');
    check(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "cannot read dataset '" + name + "'");
    const H5T_str_t pad = H5Tget_strpad(ftype);
    for (std::size_t i = 0; i < n; ++i) {
        std::string s = buf.substr(i * size, size);
        trimFixed(s, pad);
        out.push_back(std::move(s));
    }
    return out;
}

void writeInt32Dataset(hid_t loc, const std::string& name, const std::vector<std::int32_t>& values) {
    const hsize_t n = values.size();
    Handle space = owned(H5Screate_simple(1, &n, nullptr), H5Sclose, "cannot create a dataspace");
    Handle dcpl = checksummedProps(n, n, false, name);
    Handle ds = owned(H5Dcreate2(loc, name.c_str(), H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose,
                      "cannot create dataset '" + name + "'");
    if (n > 0) {
        check(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), "cannot write dataset '" + name + "'");
    }
    if (!ds.close()) fail("cannot write dataset '" + name + "'");
}

void checkDeclaredSize(hid_t dataset, std::uint64_t elements, const std::string& what) {
    if (elements == 0) return;
    Handle type = owned(H5Dget_type(dataset), H5Tclose, "cannot read " + what);
    const std::uint64_t elementBytes = std::max<std::uint64_t>(1, H5Tget_size(type));
    const std::uint64_t storage = H5Dget_storage_size(dataset);
    constexpr std::uint64_t kMaxRatio = 1100;
    if (elements > (std::uint64_t{1} << 62) / elementBytes || elements * elementBytes > storage * kMaxRatio) {
        throw Failure(what + " declares " + std::to_string(elements) + " values but the file stores " + std::to_string(storage) +
                      " bytes of it (damaged shape)");
    }
}

std::vector<std::int32_t> readInt32Dataset(hid_t loc, const std::string& name) {
    Handle ds = owned(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose, "cannot open dataset '" + name + "'");
    Handle ftype = owned(H5Dget_type(ds), H5Tclose, "cannot read dataset '" + name + "'");
    if (H5Tget_class(ftype) != H5T_INTEGER) throw Failure("dataset '" + name + "' does not hold integers");
    const auto shape = datasetShape(ds);
    if (shape.size() != 1) throw Failure("dataset '" + name + "' is not one-dimensional");
    checkDeclaredSize(ds, static_cast<std::uint64_t>(shape[0]), "dataset '" + name + "'");
    std::vector<std::int32_t> out(static_cast<std::size_t>(shape[0]));
    if (!out.empty()) check(H5Dread(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "cannot read dataset '" + name + "'");
    return out;
}

std::vector<std::string> linkNames(hid_t group) {
    // Not H5Literate: on a group whose links are in dense storage (a
    // fractal heap and a B-tree), libhdf5 1.10 builds a table of all links
    // first, and when a damaged entry stops it halfway it frees the table's
    // unfilled entries too (a crash inside H5G__link_release_table, found by
    // flipping single bytes of a cache). Asking for each name by its
    // position in the name index, in native order, walks the B-tree
    // directly and reports damage as an error.
    H5G_info_t info{};
    check(H5Gget_info(group, &info), "cannot list a group");
    if (info.nlinks > kMaxGroupLinks) {
        throw Failure("a group holds " + std::to_string(info.nlinks) + " links, more than SuperLens reads (" + std::to_string(kMaxGroupLinks) + ")");
    }
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(info.nlinks));
    std::vector<char> buffer(static_cast<std::size_t>(kMaxLinkNameBytes) + 1);
    for (hsize_t i = 0; i < info.nlinks; ++i) {
        // One lookup per link: the call returns the name's full length and
        // copies at most buffer.size() - 1 bytes of it.
        const ssize_t size = H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, buffer.data(), buffer.size(), H5P_DEFAULT);
        if (size < 0) fail("cannot list a group");
        if (size > kMaxLinkNameBytes) throw Failure("a link name of " + std::to_string(size) + " bytes");
        names.emplace_back(buffer.data(), static_cast<std::size_t>(size));
    }
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace superlens::core::h5
