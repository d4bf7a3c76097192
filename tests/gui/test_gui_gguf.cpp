// Issue 19 in the GUI: a GGUF file of every block type (F32 ... Q8_K, written
// at test time by scripts/fixtures/make_gguf_models.py, fixture gguf_quant)
// opens in the main window, runs, and shows the fixture script's float64
// answers: last-position logits within 1e-4, the planted super weight found at
// its coordinates, every view drawn.

#include <cmath>

#include <QSignalSpy>
#include <QStandardPaths>
#include <QTest>

#include "lens_session.h"
#include "main_window.h"
#include "plot_view.h"
#include "prompt_panel.h"
#include "gui_session_wait.h"
#include "gui_settings.h"
#include "test_paths.h"

using namespace superlens;

class TestGuiGguf : public QObject {
    Q_OBJECT
    QTemporaryDir m_settingsDir;  // this process's own QSettings folder (gui_settings.h)
    std::unique_ptr<gui::MainWindow> m_window;

private slots:
    void initTestCase() {
        QCoreApplication::setOrganizationName(QStringLiteral("SuperLensTest"));
        QVERIFY2(test::useOwnSettings(m_settingsDir), qPrintable(QSettings().fileName()));
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->resize(1200, 800);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }
    void cleanupTestCase() { m_window.reset(); }

    void opensEveryBlockType() {
        const std::filesystem::path dir = SUPERLENS_GGUF_QUANT_DIR;
        const nlohmann::json refs = test::readJson(dir / "refs.json");
        QStringList ids;
        for (const auto& id : refs["ids"]) ids << QString::number(id.get<int>());
        const auto& sw = refs["super_weight"];
        for (const auto& [type, ref] : refs["types"].items()) {
            const QByteArray name = QByteArray::fromStdString(type);
            QVERIFY2(test::openModelAndWait(*m_window, QString::fromStdString((dir / ("llama-q256-" + type + ".gguf")).string())), name);
            QVERIFY2(test::runIdsAndWait(*m_window, ids.join(QStringLiteral(", "))), name);
            // Logits of the last position against the float64 forward over the dequantized weights.
            const auto& result = m_window->session()->snapshot()->original;
            QVERIFY2(result, name);
            const std::vector<float> got = result->lastLogits();
            const auto& want = ref["logits"].back();
            QCOMPARE(got.size(), want.size());
            double maxAbs = 0, maxErr = 0;
            for (std::size_t i = 0; i < got.size(); ++i) {
                maxAbs = std::max(maxAbs, std::abs(want[i].get<double>()));
                maxErr = std::max(maxErr, std::abs(got[i] - want[i].get<double>()));
            }
            QVERIFY2(maxErr / maxAbs < 1e-4, qPrintable(QString::fromUtf8(name) + QStringLiteral(": %1").arg(maxErr / maxAbs)));
            // The planted super weight, found in stored coordinates.
            QVERIFY2(!m_window->session()->superWeights().empty(), name);
            const auto& found = m_window->session()->superWeights().front();
            QCOMPARE(found.layer, 1);
            QCOMPARE(found.row, sw["row"].get<std::int64_t>());
            QCOMPARE(found.col, sw["col"].get<std::int64_t>());
            // Every view draws (the Experts view is for mixture-of-experts models, the Patch grid for vision models,
            // the Compare view for a second model beside: a note here).
            for (auto* v : m_window->views()) {
                const bool drawn = v->kind() != QLatin1String("experts") && v->kind() != QLatin1String("patches") && v->kind() != QLatin1String("compare");
                QVERIFY2(v->hasData() == drawn, qPrintable(QString::fromUtf8(name) + " " + v->kind() + ": " + v->emptyMessage()));
            }
        }
    }
};

QTEST_MAIN(TestGuiGguf)
#include "test_gui_gguf.moc"
