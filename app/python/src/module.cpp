// The extension module superlens._superlens; the package superlens
// (app/python/superlens/__init__.py) re-exports it. docs/PYTHON.md is the guide.

#include "model.h"

PYBIND11_MODULE(_superlens, m) {
    namespace py = pybind11;
    using namespace superlens::python;
    m.doc() = "SuperLens core: exact instrumented forward passes, hooks, edits, analyses and the HDF5 cache, as numpy arrays.";
    m.attr("__version__") = SUPERLENS_VERSION;
    registerErrors(m);
    py::class_<PyModel, ModelPtr> cls(m, "Model", R"doc(
An opened model (superlens.open). Immutable and shareable between threads; its
engine runs one computation at a time (open the model twice to compute in
parallel: the weights are memory-mapped once by the operating system).)doc");
    registerModel(m, cls);
    registerRun(m, cls);
    registerAnalysis(m, cls);
    registerCache(m, cls);
    registerLens(m, cls);
}
