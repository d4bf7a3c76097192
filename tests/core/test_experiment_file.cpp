// The experiments file has one parser and one writer (core/engine/experiment_file.h):
// the GUI saves and opens experiments with them and `--edits FILE` reads the
// enabled edits of the same file. Round trips are exact, every damaged field is
// one error naming the file, the entry and the key.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "superlens/core/engine/edit_spec.h"
#include "superlens/core/engine/experiment_file.h"

using namespace superlens::core;

namespace {

Experiment fullExperiment() {
    Experiment x;
    x.model = "/models/llama 7b";
    x.prompts = {"Summer is hot. Winter is", "ids: 1, 450", "ünïcödé \"quoted\"\nnew line"};
    x.currentPrompt = 2;
    x.idsMode = true;
    x.edits = {{"model.layers.2.mlp.down_proj.weight[3968,7003]=0", true, "super weight", "detected"},
               {"blocks.2.hook_mlp_out[0,3968]=mean", false, "", ""},
               {"expert:1:3=off:renorm", true, "expert", "user"}};
    ExperimentRun a;
    a.number = 1;
    a.time = "2026-12-06T18:00:00.125Z";
    a.prompt = "Summer is hot.";
    a.ids = {1, 450, 2147483647, 0};
    a.edits = {"model.layers.2.mlp.down_proj.weight[3968,7003]=0"};
    a.prediction = "' the'";
    a.predictionProb = 0.3125;
    a.meanLoss = 4.375;
    a.stopwordMass = 0.1 + 0.2;  // not a short decimal: kept to the last bit
    ExperimentRun b;
    b.number = 7;
    b.image = "/pictures/cat.png";  // an image run may have no ids
    b.perplexity = 1234.5678901234567;
    x.history = std::vector<ExperimentRun>{a, b};
    return x;
}

std::string errorOf(const std::string& json) {
    auto x = parseExperiment(json, "exp.json");
    EXPECT_FALSE(x.ok()) << json;
    return x.ok() ? std::string() : x.error().message;
}

TEST(ExperimentFile, RoundTripIsExact) {
    const Experiment x = fullExperiment();
    const std::string text = experimentJson(x);
    auto back = parseExperiment(text, "exp.json");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, x);
    EXPECT_EQ(back->history->at(0).stopwordMass, 0.1 + 0.2);
    EXPECT_EQ(experimentJson(*back), text);
    EXPECT_NE(text.find("\"format\": \"superlens-experiment\""), std::string::npos);
    EXPECT_EQ(text.back(), '\n');
}

TEST(ExperimentFile, NonFiniteNumbersAreWrittenAsNotMeasured) {
    Experiment x;
    ExperimentRun r;
    r.number = 1;
    r.ids = {5};
    r.meanLoss = std::numeric_limits<double>::quiet_NaN();
    r.perplexity = std::numeric_limits<double>::infinity();
    r.predictionProb = std::numeric_limits<double>::quiet_NaN();
    x.history = std::vector<ExperimentRun>{r};
    auto back = parseExperiment(experimentJson(x), "exp.json");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_FALSE(back->history->at(0).meanLoss.has_value());
    EXPECT_FALSE(back->history->at(0).perplexity.has_value());
    EXPECT_EQ(back->history->at(0).predictionProb, 0.0);
}

TEST(ExperimentFile, BareListsAndOlderFiles) {
    auto bare = parseExperiment(R"(["a.weight[0,1]=0", {"spec": "b.weight[2,3]*=0.5", "enabled": false}])", "e.json");
    ASSERT_TRUE(bare.ok()) << bare.error().message;
    ASSERT_EQ(bare->edits.size(), 2u);
    EXPECT_EQ(bare->edits[0], (ExperimentEdit{"a.weight[0,1]=0", true, "", ""}));
    EXPECT_FALSE(bare->edits[1].enabled);
    EXPECT_FALSE(bare->history.has_value());
    EXPECT_TRUE(bare->prompts.empty());
    // A file of the first GUI version (no history, 4-space indent) and unknown keys.
    auto old = parseExperiment(R"({
    "current_prompt": 1, "edits": [{"enabled": true, "label": "L", "origin": "published", "spec": "x[1,2]=0"}],
    "format": "superlens-experiment", "ids_mode": false, "model": "/m", "prompts": ["p0", "p1"], "version": 1,
    "a_key_from_the_future": {"nested": [1, 2]}})", "e.json");
    ASSERT_TRUE(old.ok()) << old.error().message;
    EXPECT_EQ(old->currentPrompt, 1);
    EXPECT_EQ(old->edits.at(0).origin, "published");
    EXPECT_FALSE(old->history.has_value());
    // null means absent.
    auto nulls = parseExperiment(R"({"edits": [], "model": null, "history": [{"number": 2, "ids": [3], "mean_loss": null}]})", "e.json");
    ASSERT_TRUE(nulls.ok()) << nulls.error().message;
    EXPECT_FALSE(nulls->history->at(0).meanLoss.has_value());
    EXPECT_EQ(nulls->history->at(0).number, 2);
}

TEST(ExperimentFile, DamagedFieldsAreOneErrorNamingFileEntryAndKey) {
    struct Case {
        const char* json;
        const char* expected;
    };
    const Case cases[] = {
        {"{", "exp.json: malformed JSON"},
        {R"({"prompts": []})", "exp.json: expected a JSON list of edit specs or an object with \"edits\""},
        {R"({"edits": {}})", "exp.json: \"edits\" must be a list"},
        {R"({"edits": [3]})", "exp.json: each edit must be a string or {\"spec\": \"...\"}"},
        {R"({"edits": [{"spec": 3}]})", "exp.json: each edit must be a string"},
        {R"({"edits": [{"spec": "x", "enabled": "yes"}]})", "exp.json: \"enabled\" must be true or false"},
        {R"({"edits": [{"spec": "x", "label": 4}]})", "exp.json: \"label\" must be a string"},
        {R"({"edits": [], "model": 1})", "exp.json: \"model\" must be a string"},
        {R"({"edits": [], "prompts": ["a", 2]})", "exp.json: \"prompts\" must be a list of strings"},
        {R"({"edits": [], "prompts": ["a", "b"], "current_prompt": 2})", "exp.json: \"current_prompt\" must be an integer from 0 to 1"},
        {R"({"edits": [], "current_prompt": 1.5})", "exp.json: \"current_prompt\" must be an integer from 0 to 0"},
        {R"({"edits": [], "ids_mode": 1})", "exp.json: \"ids_mode\" must be true or false"},
        {R"({"edits": [], "history": {}})", "exp.json: \"history\" must be a list"},
        {R"({"edits": [], "history": [3]})", "exp.json: history entry 0: not an object"},
        {R"({"edits": [], "history": [{"ids": [1]}]})", "exp.json: history entry 0: \"number\" is missing"},
        {R"({"edits": [], "history": [{"number": 1, "ids": [1]}, {"number": 0, "ids": [1]}]})",
         "exp.json: history entry 1: \"number\" must be an integer from 1 to 2147483647"},
        {R"({"edits": [], "history": [{"number": 1, "ids": [1, "x"], "edits": []}]})",
         "exp.json: history entry 0: \"ids\" holds something that is not a token id"},
        {R"({"edits": [], "history": [{"number": 1, "ids": [2147483648]}]})", "exp.json: history entry 0: \"ids\" holds something that is not a token id"},
        {R"({"edits": [], "history": [{"number": 1, "ids": [-1]}]})", "exp.json: history entry 0: \"ids\" holds something that is not a token id"},
        {R"({"edits": [], "history": [{"number": 1}]})", "exp.json: history entry 0: \"ids\" must be a list of token ids"},
        {R"({"edits": [], "history": [{"number": 1, "ids": []}]})", "exp.json: history entry 0: \"ids\" is empty"},
        {R"({"edits": [], "history": [{"number": 1, "ids": [1], "edits": [1]}]})", "exp.json: history entry 0: \"edits\" must be a list of strings"},
        {R"({"edits": [], "history": [{"number": 1, "ids": [1], "mean_loss": "4"}]})",
         "exp.json: history entry 0: \"mean_loss\" must be a number or null"},
        {R"({"edits": [], "history": [{"number": 18446744073709551615, "ids": [1]}]})",
         "exp.json: history entry 0: \"number\" must be an integer from 1 to 2147483647"},
    };
    for (const Case& c : cases) {
        const std::string message = errorOf(c.json);
        EXPECT_EQ(message.rfind(c.expected, 0), 0u) << c.json << "\n  gave: " << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
}

TEST(ExperimentFile, EditsFileReadsTheEnabledEditsOfAnExperiment) {
    const auto dir = std::filesystem::temp_directory_path() / ("sl-exp-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "saved.json";
    {
        std::ofstream out(path);
        out << experimentJson(fullExperiment());
    }
    auto specs = loadEditsFile(path);
    ASSERT_TRUE(specs.ok()) << specs.error().message;
    ASSERT_EQ(specs->size(), 2u);  // the disabled activation edit is skipped
    EXPECT_EQ((*specs)[0].text(), "model.layers.2.mlp.down_proj.weight[3968,7003]=0");
    EXPECT_EQ((*specs)[1].kind, EditKind::ExpertOff);
    auto loaded = loadExperimentFile(path);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(*loaded, fullExperiment());
    // A bad spec in an enabled entry names the file; the same in a disabled one is not read.
    {
        std::ofstream out(path);
        out << R"({"edits": [{"spec": "nonsense[", "enabled": false}, "a.weight[0,1]=0"]})";
    }
    EXPECT_TRUE(loadEditsFile(path).ok());
    {
        std::ofstream out(path);
        out << R"({"edits": ["nonsense["]})";
    }
    auto bad = loadEditsFile(path);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message.rfind(path.string() + ": ", 0), 0u) << bad.error().message;
    // A folder is not a file.
    auto folder = loadExperimentFile(dir);
    ASSERT_FALSE(folder.ok());
    EXPECT_NE(folder.error().message.find(dir.string()), std::string::npos) << folder.error().message;
    std::filesystem::remove_all(dir);
}

}  // namespace
