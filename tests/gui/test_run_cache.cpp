// The GUI's run cache (issue 7): a second session running the same model and
// prompt reads the original run and its super-weight scan back from the HDF5
// cache instead of recomputing, says so, and shows bit-identical numbers; a
// different prompt is computed; a damaged cache file is reported, the run is
// computed anyway and the file is left untouched.
//
// Model: llama-planted (planted super weight at layer 1, row 13, col 57).

#include <chrono>

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "lens_session.h"
#include "session_run_cache.h"
#include "superlens/core/cache/activation_cache.h"
#include "test_paths.h"

using namespace superlens;

namespace {

const std::vector<core::TokenId> kTokens{1, 5, 77, 130, 12, 200, 99, 31, 250, 64};

struct SessionRun {
    std::unique_ptr<gui::LensSession> session;
    QStringList messages;
};

// Opens the model in a fresh session with the given cache folder and runs `tokens` with a scan.
bool runSession(SessionRun& out, const QString& cacheDir, const std::vector<core::TokenId>& tokens) {
    out.session = std::make_unique<gui::LensSession>();
    out.session->setRunCacheDirectory(cacheDir);
    QObject::connect(out.session.get(), &gui::LensSession::statusMessage, [&out](const QString& m) { out.messages << m; });
    QSignalSpy opened(out.session.get(), &gui::LensSession::modelOpened);
    out.session->openModel(QString::fromStdString(test::referenceModel("llama-planted").string()));
    if (!opened.wait(60000)) return false;
    QSignalSpy idle(out.session.get(), &gui::LensSession::idle);
    out.session->run(tokens, true);
    for (int i = 0; i < 240 && !(out.session->isIdle() && out.session->snapshot()); ++i) idle.wait(500);
    return out.session->isIdle() && out.session->snapshot() != nullptr;
}

QByteArray fileBytes(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

}  // namespace

class TestRunCache : public QObject {
    Q_OBJECT
private slots:
    void secondSessionReusesTheRunAndTheScan() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        SessionRun first;
        QVERIFY(runSession(first, dir.path(), kTokens));
        QVERIFY(!first.session->lastRunReused());
        QVERIFY2(first.messages.join('\n').contains(QStringLiteral("saved to the run cache")), qPrintable(first.messages.join('\n')));
        const auto file = gui::runCacheFile(dir.path().toStdString(), *first.session->model()->model);
        QVERIFY(std::filesystem::exists(file));
        QCOMPARE(first.session->superWeights().size(), std::size_t{1});

        SessionRun second;
        QVERIFY(runSession(second, dir.path(), kTokens));
        QVERIFY(second.session->lastRunReused());
        QVERIFY2(second.messages.join('\n').contains(QStringLiteral("reused cached run 0")), qPrintable(second.messages.join('\n')));

        // The same numbers, bit for bit: logits, every recorded hook, and the scan.
        const auto& a = *first.session->originalResult();
        const auto& b = *second.session->originalResult();
        QCOMPARE(b.tokens, a.tokens);
        QVERIFY(b.logits.shape == a.logits.shape);
        QVERIFY(b.logits.values == a.logits.values);
        QCOMPARE(b.activations.size(), a.activations.size());
        for (const auto& [point, tensor] : a.activations) {
            auto it = b.activations.find(point);
            const QString name = QString::fromStdString(core::hookName(point));
            QVERIFY2(it != b.activations.end(), qPrintable(name));
            QVERIFY2(it->second->shape == tensor->shape && it->second->values == tensor->values, qPrintable(name));
        }
        const auto& sw = second.session->superWeights();
        QCOMPARE(sw.size(), std::size_t{1});
        QCOMPARE(sw[0].layer, 1);
        QCOMPARE(sw[0].row, std::int64_t{13});
        QCOMPARE(sw[0].col, std::int64_t{57});
        QCOMPARE(sw[0].value, first.session->superWeights()[0].value);
        QCOMPARE(sw[0].downOut, first.session->superWeights()[0].downOut);

        // Edits after a reused run still work (the engine computes the base it needs).
        QSignalSpy idle(second.session.get(), &gui::LensSession::idle);
        second.session->setEdits({QString::fromStdString(sw[0].zeroEdit(*second.session->model()->model))});
        for (int i = 0; i < 240 && !(second.session->isIdle() && second.session->snapshot() && second.session->snapshot()->edited); ++i) idle.wait(500);
        QVERIFY(second.session->snapshot()->edited != nullptr);
        QVERIFY(second.session->snapshot()->edited->logits.values != a.logits.values);

        // Another prompt is computed and appended.
        SessionRun third;
        std::vector<core::TokenId> other = kTokens;
        other.back() = 65;
        QVERIFY(runSession(third, dir.path(), other));
        QVERIFY(!third.session->lastRunReused());
        auto cache = core::ActivationCache::open(file);
        QVERIFY(cache.ok());
        QCOMPARE((*cache)->runs().size(), std::size_t{2});
    }

    void damagedCacheIsReportedAndLeftAlone() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        SessionRun probe;
        QVERIFY(runSession(probe, dir.path(), kTokens));
        const QString file = QString::fromStdString(gui::runCacheFile(dir.path().toStdString(), *probe.session->model()->model).string());
        QVERIFY(QFile::remove(file));
        {
            QFile f(file);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("\x89HDF\r\n\x1a\n this is not a real HDF5 file");
        }
        const QByteArray before = fileBytes(file);

        SessionRun run;
        QVERIFY(runSession(run, dir.path(), kTokens));
        QVERIFY(!run.session->lastRunReused());
        const QString log = run.messages.join('\n');
        QVERIFY2(log.contains(QStringLiteral("run cache not used")), qPrintable(log));
        QVERIFY2(log.contains(QFileInfo(file).fileName()), qPrintable(log));
        QCOMPARE(run.session->superWeights().size(), std::size_t{1});
        QCOMPARE(fileBytes(file), before);
    }

    void newWeightsOfTheSameShapesGetAFreshCache() {
        // A retrained model written over the old files keeps its fingerprint
        // (config, headers, sizes); its weight files' times must change the cache.
        QTemporaryDir dir, modelDir;
        QVERIFY(dir.isValid() && modelDir.isValid());
        const std::filesystem::path src = test::referenceModel("llama-planted");
        const std::filesystem::path copy = modelDir.path().toStdString();
        for (const auto& e : std::filesystem::directory_iterator(src)) std::filesystem::copy(e.path(), copy / e.path().filename());
        auto model = core::Model::open(copy);
        QVERIFY(model.ok());
        const auto before = gui::runCacheFile(dir.path().toStdString(), **model);
        QCOMPARE(gui::runCacheFile(dir.path().toStdString(), **model), before);  // stable
        const auto weights = copy / "model.safetensors";
        QVERIFY(std::filesystem::exists(weights));
        std::filesystem::last_write_time(weights, std::filesystem::last_write_time(weights) + std::chrono::seconds(5));
        auto reopened = core::Model::open(copy);
        QVERIFY(reopened.ok());
        QCOMPARE((*reopened)->fingerprint(), (*model)->fingerprint());
        QVERIFY(gui::runCacheFile(dir.path().toStdString(), **reopened) != before);
    }

    void scanMetadataRoundTrips() {
        core::SuperWeight w;
        w.layer = 2;
        w.row = 3968;
        w.col = 7003;
        w.value = -0.0123f;
        w.downIn = 1234.5f;
        w.downOut = -2789.25f;
        w.token = 0;
        w.iteration = 1;
        w.outputRatio = 812.5;
        w.inputRatio = 96.25;
        w.residRatio = 3000.75;
        auto back = gui::superWeightsFromMetadata(gui::superWeightsToMetadata({w}));
        QVERIFY(back.has_value());
        QCOMPARE(back->size(), std::size_t{1});
        const auto& r = back->front();
        QVERIFY(r.sameCoordinate(w));
        QCOMPARE(r.value, w.value);
        QCOMPARE(r.downIn, w.downIn);
        QCOMPARE(r.downOut, w.downOut);
        QCOMPARE(r.iteration, 1);
        QCOMPARE(r.outputRatio, w.outputRatio);
        QCOMPARE(r.residRatio, w.residRatio);
        QVERIFY(gui::superWeightsFromMetadata("{}") == std::nullopt);
        QVERIFY(gui::superWeightsFromMetadata("not json") == std::nullopt);
        auto empty = gui::superWeightsFromMetadata(gui::superWeightsToMetadata({}));
        QVERIFY(empty.has_value() && empty->empty());
    }
};

QTEST_MAIN(TestRunCache)
#include "test_run_cache.moc"
