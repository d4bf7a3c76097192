// Edit texts are built in one place (core/engine/edit_spec.h): what the GUI's
// toggles, the studies and the scans write is DESIGN.md's syntax, and parsing
// it gives the edit that was meant, back to the same canonical text.

#include <gtest/gtest.h>

#include "superlens/core/engine/edit_spec.h"

using namespace superlens::core;

namespace {

TEST(EditTexts, WeightSetAndScaleRoundTrip) {
    const std::string name = "model.layers.2.mlp.down_proj.weight";
    EXPECT_EQ(weightSetText(name, 3968, 7003, 0.0), name + "[3968,7003]=0");
    EXPECT_EQ(weightSetText(name, 1, 2, -0.0), name + "[1,2]=0");  // -0 folds to 0
    EXPECT_EQ(weightScaleText(name, 3968, 7003, 0.5), name + "[3968,7003]*=0.5");
    for (const std::string& text : {weightSetText(name, 7, 9, 2.25), weightScaleText(name, 7, 9, 1e-3), weightSetText(name, 0, 0, -12.5)}) {
        auto e = parseEdit(text);
        ASSERT_TRUE(e.ok()) << text << ": " << e.error().message;
        EXPECT_EQ(e->kind, EditKind::Weight);
        EXPECT_EQ(e->target, name);
        EXPECT_EQ(e->text(), text);
    }
    auto scale = parseEdit(weightScaleText(name, 7, 9, 0.125));
    ASSERT_TRUE(scale.ok());
    EXPECT_EQ(scale->op, EditOp::Scale);
    EXPECT_EQ(scale->value, 0.125);
}

TEST(EditTexts, ActivationAndExpertRoundTrip) {
    const std::string act = activationSetText("blocks.1.hook_mlp_out", 0, 87, 2865.25);
    EXPECT_EQ(act, "blocks.1.hook_mlp_out[0,87]=2865.25");
    auto a = parseEdit(act);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->kind, EditKind::Activation);
    EXPECT_EQ(a->text(), act);
    EXPECT_EQ(expertOffText(1, 0), "expert:1:0=off");
    EXPECT_EQ(expertOffText(3, 7, true), "expert:3:7=off:renorm");
    for (const std::string& text : {expertOffText(1, 0), expertOffText(3, 7, true)}) {
        auto e = parseEdit(text);
        ASSERT_TRUE(e.ok()) << e.error().message;
        EXPECT_EQ(e->kind, EditKind::ExpertOff);
        EXPECT_EQ(e->text(), text);
    }
}

}  // namespace
