#pragma once
// The Experts view's test snapshot: the Mixtral fixture (tests/data/moe,
// planted super expert L1 E0) on its reference ids, with that expert pruned,
// built as the GUI builds it (original run, edited run, buildViewSnapshot).

#include <memory>
#include <vector>

#include <QtGlobal>

#include "superlens/core/view/build_view_snapshot.h"
#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/model/model.h"
#include "test_paths.h"

namespace superlens::test {

struct MoeViewSnapshot {
    std::shared_ptr<const core::Model> model;
    std::unique_ptr<core::Engine> engine;
    core::view::SnapshotPtr snapshot;
};

inline MoeViewSnapshot mixtralExpertsSnapshot() {
    MoeViewSnapshot x;
    auto m = core::Model::open(testData() / "moe" / "mixtral-bf16");
    if (!m) qFatal("%s", m.error().message.c_str());
    x.model = *m;
    x.engine = std::make_unique<core::Engine>(x.model);
    const std::vector<core::TokenId> ids{1, 5, 77, 30, 12, 100, 99, 31, 120, 64};
    auto original = x.engine->run(core::view::viewForwardRequest(ids, {}));
    if (!original) qFatal("%s", original.error().message.c_str());
    auto edits = core::parseEdits({"expert:1:0=off"}, *x.model);
    if (!edits) qFatal("%s", edits.error().message.c_str());
    auto edited = x.engine->run(core::view::viewForwardRequest(ids, *edits, *original));
    if (!edited) qFatal("%s", edited.error().message.c_str());
    core::view::SnapshotInputs in;
    in.model = x.model.get();
    in.modelName = "mixtral-bf16";
    in.original = *original;
    in.edited = *edited;
    in.engine = x.engine.get();
    auto snap = core::view::buildViewSnapshot(in);
    if (!snap) qFatal("%s", snap.error().message.c_str());
    x.snapshot = *snap;
    return x;
}

}  // namespace superlens::test
