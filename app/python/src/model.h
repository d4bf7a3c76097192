#pragma once
// superlens.Model: an opened checkpoint with its engine and (lazily) its
// tokenizer, shared by every Python object made from it (arrays, results).

#include <memory>
#include <mutex>
#include <string>

#include "common.h"
#include "superlens/core/engine/engine.h"
#include "superlens/core/model/model.h"
#include "superlens/core/tokenizer/tokenizer.h"

namespace superlens::python {

class PyModel {
public:
    // Opens and fully validates a model (core::Model::open), as every CLI command does.
    static std::shared_ptr<PyModel> open(const std::string& path, const std::string& precision, const std::string& compute = "fp32");

    const core::Model& model() const { return *m_model; }
    const std::shared_ptr<const core::Model>& modelPtr() const { return m_model; }
    // Engine::run/generate serialise on the engine's own mutex: one Model
    // runs one computation at a time; open a model twice to run in parallel.
    core::Engine& engine() { return *m_engine; }
    const std::string& path() const { return m_path; }

    // The folder's tokenizer, loaded on first use (GIL released while
    // loading); nullptr when the folder has none. A damaged tokenizer file
    // raises superlens.Error, as every CLI command that reads it does.
    std::shared_ptr<core::Tokenizer> tokenizer();
    // The tokenizer, or superlens.Error naming what needed it.
    std::shared_ptr<core::Tokenizer> requireTokenizer(const std::string& neededFor);

    py::object config();  // json.loads(config.json text), cached

private:
    std::string m_path;
    std::shared_ptr<const core::Model> m_model;
    std::unique_ptr<core::Engine> m_engine;
    std::mutex m_tokMutex;
    bool m_tokLoaded = false;
    std::shared_ptr<core::Tokenizer> m_tokenizer;
    py::object m_config;
};

using ModelPtr = std::shared_ptr<PyModel>;

void registerModel(py::module_& m, py::class_<PyModel, ModelPtr>& cls);
void registerRun(py::module_& m, py::class_<PyModel, ModelPtr>& cls);
void registerAnalysis(py::module_& m, py::class_<PyModel, ModelPtr>& cls);
void registerCache(py::module_& m, py::class_<PyModel, ModelPtr>& cls);
void registerLens(py::module_& m, py::class_<PyModel, ModelPtr>& cls);

}  // namespace superlens::python
