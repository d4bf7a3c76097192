// The GUI's super-weight study (issue 23) against `superlens-cli study
// superweight --json`, value for value: the four conditions with their
// intervals and the null control on the demo model (a short text, BOS
// windows), the joint ablation on the two-super-weight Phi-3 fixture (token
// ids, no tokenizer). The study runs as a background job and can be
// cancelled; its JSON saves and opens again; an exported figure's embedded
// command (superlens-cli figure superweight --study ...) writes the same CSV.

#include <cmath>

#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <qcustomplot.h>

#include "ablation_panel.h"
#include "study_jobs.h"
#include "figure_export.h"
#include "jobs/job_lane.h"
#include "lens_session.h"
#include "main_window.h"
#include "studies/superweight_study_view.h"
#include "gui_session_wait.h"
#include "test_paths.h"

using namespace superlens;

namespace {

QString cliPath() { return QString::fromStdString((test::binDir() / "superlens-cli").string()); }

// Runs superlens-cli with these arguments; the parsed --json output (null on failure, with the error logged).
nlohmann::json runCli(const QStringList& args) {
    QProcess p;
    p.start(cliPath(), args);
    if (!p.waitForFinished(600000) || p.exitCode() != 0) {
        qWarning("superlens-cli %s failed: %s", qPrintable(args.join(QLatin1Char(' '))), p.readAllStandardError().constData());
        return nullptr;
    }
    return nlohmann::json::parse(p.readAllStandardOutput().toStdString(), nullptr, false);
}

// A CSV cell as the double it was written from (shortest round trip); NaN when empty.
double num(const QString& cell) {
    if (cell.isEmpty()) return std::nan("");
    bool ok = false;
    const double v = cell.toDouble(&ok);
    return ok ? v : std::nan("");
}

// A JSON number (NaN for null).
double jnum(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : std::nan(""); }

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

int column(const widgets::FigureTable& t, const char* name) { return static_cast<int>(t.columns.indexOf(QString::fromLatin1(name))); }

QStringList csvDataRows(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    QStringList rows;
    for (const QString& line : QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
        if (!line.startsWith(QLatin1Char('#'))) rows << line;
    }
    return rows;
}

}  // namespace

class TestSuperWeightStudy : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<gui::MainWindow> m_window;
    QTemporaryDir m_dir;
    QString m_text;

    bool openModel(const QString& path) { return test::openModelAndWait(*m_window, path); }

    bool runAndWait(const gui::SuperWeightStudySettings& s, const QString& show) {
        auto* studies = m_window->studies();
        QSignalSpy shown(studies, &gui::StudyJobs::studyShown);
        QSignalSpy finished(studies, &gui::StudyJobs::jobFinished);
        if (!studies->runSuperWeight(s, show)) return false;
        if (!finished.wait(240000) || !finished[0][1].toBool()) {
            qWarning("the study failed: %s", finished.isEmpty() ? "timeout" : qPrintable(finished[0][2].toString()));
            return false;
        }
        QTest::qWait(20);
        return shown.size() == 1 && shown[0][0].toString() == QLatin1String("superweight");
    }

private slots:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QVERIFY(m_dir.isValid());
        // The held-out text's first 1200 characters: a few windows of 32 tokens.
        QFile in(QString::fromStdString((test::resourcesDir() / "texts" / "kjv_heldout_ruth_jonah_james.txt").string()));
        QVERIFY(in.open(QIODevice::ReadOnly));
        m_text = m_dir.filePath(QStringLiteral("text.txt"));
        QFile out(m_text);
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(in.read(1200));
        out.close();
        m_window = std::make_unique<gui::MainWindow>(false);
        m_window->setAutoRunOnOpen(false);
        QVERIFY(openModel(QString::fromStdString(test::demoModel().string())));
    }

    void theViewIsATabAndTheNullButtonSitsInTheAblationPanel() {
        auto* v = m_window->studies()->superWeightView();
        QVERIFY(m_window->studies()->views().contains(v));
        QVERIFY(v->parentWidget() != nullptr);
        QVERIFY(!v->hasData());
        QVERIFY(m_window->findChild<gui::AblationPanel*>()->nullDistributionButton() != nullptr);
    }

    void aStudyCanBeCancelled() {
        gui::SuperWeightStudySettings s;
        s.textFile = m_text;
        s.context = 32;
        s.nullCount = 50;
        auto* studies = m_window->studies();
        QSignalSpy finished(studies, &gui::StudyJobs::jobFinished);
        QSignalSpy shown(studies, &gui::StudyJobs::studyShown);
        QVERIFY(studies->runSuperWeight(s));
        studies->cancel();
        QVERIFY(!studies->isRunning());
        QVERIFY(!finished.isEmpty());
        QCOMPARE(finished.back()[2].toString(), QString::fromLatin1(core::kCancelledMessage));
        studies->lane()->waitForIdle();
        QTest::qWait(50);
        QCOMPARE(shown.size(), 0);
    }

    // The conditions and the null control equal the CLI's JSON, value for value.
    void conditionsAndNullEqualTheCli() {
        gui::SuperWeightStudySettings s;
        s.textFile = m_text;
        s.maxTokens = 0;
        s.context = 32;
        s.bosWindows = true;
        s.zeroShot = false;
        s.resamples = 200;
        s.nullCount = 4;
        QVERIFY(runAndWait(s, QStringLiteral("conditions")));
        auto* v = m_window->studies()->superWeightView();
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        QCOMPARE(v->show(), QStringLiteral("conditions"));
        const nlohmann::json j = runCli({QStringLiteral("study"), QStringLiteral("superweight"), QString::fromStdString(test::demoModel().string()),
                                         QStringLiteral("--text"), m_text, QStringLiteral("--ctx"), QStringLiteral("32"), QStringLiteral("--bos-windows"),
                                         QStringLiteral("--no-tasks"), QStringLiteral("--bootstrap"), QStringLiteral("200"), QStringLiteral("--null"),
                                         QStringLiteral("4"), QStringLiteral("--json")});
        QVERIFY(j.is_object());
        QCOMPARE(j["study"].get<std::string>(), std::string("superweight"));

        // Conditions: every value and interval bound of the table is the CLI's double.
        const widgets::FigureTable t = v->dataTable();
        const auto& conds = j["conditions"];
        QCOMPARE(t.rows.size(), static_cast<qsizetype>(conds.size()));
        QCOMPARE(t.rows.size(), 4);
        int compared = 0;
        for (int r = 0; r < t.rows.size(); ++r) {
            const auto& c = conds[static_cast<std::size_t>(r)];
            QCOMPARE(t.rows[r][column(t, "key")].toStdString(), c["key"].get<std::string>());
            const auto check = [&](const char* col, double expected) {
                const double got = num(t.rows[r][column(t, col)]);
                QVERIFY2(same(got, expected), qPrintable(QStringLiteral("%1 %2: table %3, CLI %4").arg(t.rows[r][0], col).arg(got, 0, 'g', 17).arg(expected, 0, 'g', 17)));
                ++compared;
            };
            check("ppl", jnum(c["ppl"]));
            check("ppl_lo", jnum(c["ppl_ci"][0]));
            check("ppl_hi", jnum(c["ppl_ci"][1]));
            check("ppl_ratio", jnum(c["ppl_ratio"]));
            check("ppl_ratio_lo", jnum(c["ppl_ratio_ci"][0]));
            check("ppl_ratio_hi", jnum(c["ppl_ratio_ci"][1]));
            check("stopword_mass", jnum(c["stopwords"]["mass"]));
            check("stopword_mass_lo", jnum(c["stopwords"]["mass_ci"][0]));
            check("stopword_mass_hi", jnum(c["stopwords"]["mass_ci"][1]));
            check("stopword_ratio", jnum(c["stopwords"]["ratio"]));
            check("stopword_ratio_lo", jnum(c["stopwords"]["ratio_ci"][0]));
            check("stopword_ratio_hi", jnum(c["stopwords"]["ratio_ci"][1]));
            QVERIFY(c["zero_shot"].is_null() && t.rows[r][column(t, "accuracy")].isEmpty());
            // Intervals exist and contain their value.
            QVERIFY(num(t.rows[r][column(t, "ppl_lo")]) <= num(t.rows[r][column(t, "ppl")]));
            QVERIFY(num(t.rows[r][column(t, "ppl")]) <= num(t.rows[r][column(t, "ppl_hi")]));
        }
        QCOMPARE(compared, 4 * 12);
        // The bars carry the intervals as error bars.
        QVERIFY(v->bars() && v->errorBars());
        QCOMPARE(v->errorBars()->dataCount(), 4);
        QVERIFY(v->setMeasure(QStringLiteral("stopword_ratio")));
        QVERIFY(v->errorBars() && v->errorBars()->dataCount() == 4);
        QCOMPARE(v->table()->rowCount(), 4);

        // The null control: the draws, percentile and z of conditions[1].null (and null_elsewhere).
        QVERIFY(v->setShow(QStringLiteral("null")));
        QVERIFY2(v->hasData(), qPrintable(v->emptyMessage()));
        QCOMPARE(static_cast<int>(v->nullStrips().size()), 2);
        const widgets::FigureTable n = v->dataTable();
        QCOMPARE(n.rows.size(), 8);
        for (int r = 0; r < n.rows.size(); ++r) {
            const bool same_matrix = n.rows[r][0] == QLatin1String("same_matrix");
            const auto& nj = conds[1][same_matrix ? "null" : "null_elsewhere"];
            const int d = n.rows[r][1].toInt();
            QVERIFY(same(num(n.rows[r][column(n, "ppl")]), jnum(nj["ppl"][static_cast<std::size_t>(d)])));
            QVERIFY(same(num(n.rows[r][column(n, "ablation_ppl")]), jnum(conds[1]["ppl"])));
            QVERIFY(same(num(n.rows[r][column(n, "mean")]), jnum(nj["mean"])));
            QVERIFY(same(num(n.rows[r][column(n, "sd")]), jnum(nj["sd"])));
            QVERIFY(same(num(n.rows[r][column(n, "percentile")]), jnum(nj["percentile"])));
            QVERIFY(same(num(n.rows[r][column(n, "z")]), jnum(nj["z"])));
        }
        QCOMPARE(v->figureState().value(0).second, QStringLiteral("null"));

        // The CLI's JSON opens in the view and gives the same tables.
        const QString guiNull = n.toCsv();
        QString path = m_dir.filePath(QStringLiteral("cli.json")), error, kind;
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray::fromStdString(j.dump()));
        }
        const QString guiConditions = t.toCsv();
        QVERIFY2(m_window->studies()->openStudyFile(path, &error, &kind), qPrintable(error));
        QCOMPARE(kind, QStringLiteral("superweight"));
        QCOMPARE(v->show(), QStringLiteral("conditions"));
        QCOMPARE(v->dataTable().toCsv(), guiConditions);
        QVERIFY(v->setShow(QStringLiteral("null")));
        QCOMPARE(v->dataTable().toCsv(), guiNull);
        // Saved by the GUI and opened again: the same study.
        QVERIFY2(m_window->studies()->saveStudyFile(QStringLiteral("superweight"), m_dir.filePath(QStringLiteral("gui.json")), &error), qPrintable(error));
        QVERIFY2(m_window->studies()->openStudyFile(m_dir.filePath(QStringLiteral("gui.json")), &error), qPrintable(error));
        QCOMPARE(v->dataTable().toCsv(), guiConditions);
        // A damaged file is named.
        {
            QFile f(m_dir.filePath(QStringLiteral("bad.json")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("{\"study\": \"superweight\", \"super_weights\": [], \"conditions\": [{\"key\": \"original\", \"ppl\": \"x\"}]}");
        }
        QVERIFY(!m_window->studies()->openStudyFile(m_dir.filePath(QStringLiteral("bad.json")), &error));
        QVERIFY2(error.contains(QStringLiteral("bad.json")) && error.contains(QStringLiteral("conditions[0].ppl")), qPrintable(error));
    }

    // An exported figure's embedded command draws the same figure from the saved study.
    void anExportedFigureRedrawsFromItsCommand() {
        auto* v = m_window->studies()->superWeightView();
        QVERIFY(v->setShow(QStringLiteral("conditions")));
        // In a one-column figure every condition keeps its (wrapped) tick label: the layout
        // pass measures a wrapped label by its widest line, not as one long line.
        {
            widgets::FigureExportScope scope(*v, widgets::ExportOptions::oneColumn());
            int labelled = 0;
            for (const QString& l : v->plot()->xAxis->tickVectorLabels()) labelled += l.isEmpty() ? 0 : 1;
            QCOMPARE(labelled, 4);
            QVERIFY(v->errorBars() && v->errorBars()->dataCount() == 4);
        }
        const QString fig = m_dir.filePath(QStringLiteral("study.svg")), studyFile = m_dir.filePath(QStringLiteral("study.study.json"));
        QString error;
        QVERIFY2(m_window->studies()->saveStudyFile(QStringLiteral("superweight"), studyFile, &error), qPrintable(error));
        widgets::ExportOptions options;
        options.writeCsv = true;
        options.provenance = m_window->figureProvenance(*v, fig, options, studyFile);
        QVERIFY2(widgets::exportFigure(*v, fig, options, &error), qPrintable(error));
        QStringList words;
        QVERIFY(widgets::splitShellWords(options.provenance.command, &words));
        QCOMPARE(words.value(2), QStringLiteral("superweight"));
        QVERIFY2(words.contains(QStringLiteral("--show")) && words.contains(QStringLiteral("--study")), qPrintable(options.provenance.command));
        const qsizetype out = words.indexOf(QStringLiteral("--out"));
        words[out + 1] = m_dir.filePath(QStringLiteral("cli.svg"));
        QProcess cli;
        cli.start(cliPath(), words.mid(1));
        QVERIFY(cli.waitForFinished(300000));
        QVERIFY2(cli.exitCode() == 0, cli.readAllStandardError().constData());
        const QStringList gui = csvDataRows(widgets::csvPathFor(fig));
        QCOMPARE(gui.size(), 5);
        QCOMPARE(csvDataRows(m_dir.filePath(QStringLiteral("cli.csv"))), gui);
    }

    // The joint ablation on a model with two super weights equals `study superweight --joint --json`.
    void jointEqualsTheCli() {
        const QString phi3 = QString::fromStdString(test::referenceModel("phi3-bf16-two-super-weights").string());
        QVERIFY(openModel(phi3));
        const QString ids = m_dir.filePath(QStringLiteral("ids.txt"));
        {
            QFile f(ids);
            QVERIFY(f.open(QIODevice::WriteOnly));
            // BOS-like id 1 once, at position 0: the planted super activations sit on the first token.
            QStringList list = {QStringLiteral("1")};
            for (int i = 1; list.size() < 48; ++i) {
                if ((i * 37 + 5) % 256 != 1) list << QString::number((i * 37 + 5) % 256);
            }
            f.write(list.join(QLatin1Char(' ')).toUtf8());
        }
        gui::SuperWeightStudySettings s;
        s.idsFile = ids;
        s.maxTokens = 0;
        s.context = 8;
        s.resamples = 100;
        s.joint = true;
        QVERIFY(runAndWait(s, QStringLiteral("joint")));
        auto* v = m_window->studies()->superWeightView();
        QCOMPARE(v->show(), QStringLiteral("joint"));
        QVERIFY2(v->hasData() && v->colorMap(), qPrintable(v->emptyMessage()));
        const nlohmann::json j = runCli({QStringLiteral("study"), QStringLiteral("superweight"), phi3, QStringLiteral("--text-ids"), ids, QStringLiteral("--ctx"),
                                         QStringLiteral("8"), QStringLiteral("--bootstrap"), QStringLiteral("100"), QStringLiteral("--joint"), QStringLiteral("--json")});
        QVERIFY(j.is_object() && j["joint"].is_object());
        const auto& jt = j["joint"];
        QCOMPARE(jt["items"].size(), std::size_t{2});
        const widgets::FigureTable t = v->dataTable();
        // single x2, leave_one_out x2, all, one pair.
        QCOMPARE(t.rows.size(), 6);
        const int effect = column(t, "effect"), lo = column(t, "effect_lo"), hi = column(t, "effect_hi");
        for (std::size_t i = 0; i < 2; ++i) {
            const auto& row = t.rows[static_cast<int>(i)];
            QCOMPARE(row[0], QStringLiteral("single"));
            QVERIFY(same(num(row[effect]), jnum(jt["single"][i])));
            QVERIFY(same(num(row[lo]), jnum(jt["single_ci"][i][0])) && same(num(row[hi]), jnum(jt["single_ci"][i][1])));
            const auto& loo = t.rows[static_cast<int>(2 + i)];
            QCOMPARE(loo[0], QStringLiteral("leave_one_out"));
            QVERIFY(same(num(loo[effect]), jnum(jt["leave_one_out"][i])));
            QVERIFY(same(num(loo[lo]), jnum(jt["leave_one_out_ci"][i][0])) && same(num(loo[hi]), jnum(jt["leave_one_out_ci"][i][1])));
        }
        QCOMPARE(t.rows[4][0], QStringLiteral("all"));
        QVERIFY(same(num(t.rows[4][effect]), jnum(jt["all"])));
        QVERIFY(same(num(t.rows[4][lo]), jnum(jt["all_ci"][0])) && same(num(t.rows[4][hi]), jnum(jt["all_ci"][1])));
        const auto& pair = t.rows[5];
        QCOMPARE(pair[0], QStringLiteral("pair"));
        QVERIFY(same(num(pair[effect]), jnum(jt["pair"][0][1])));
        QVERIFY(same(num(pair[column(t, "interaction")]), jnum(jt["interaction"][0][1])));
        QVERIFY(same(num(pair[column(t, "interaction_lo")]), jnum(jt["interaction_ci"][0][1][0])));
        QVERIFY(same(num(pair[column(t, "interaction_hi")]), jnum(jt["interaction_ci"][0][1][1])));
        // The interaction is the pair's effect minus the two single effects (the matrix's definition).
        QVERIFY(std::abs(num(pair[column(t, "interaction")]) - (num(pair[effect]) - num(t.rows[0][effect]) - num(t.rows[1][effect]))) < 1e-12);
        // The heatmap draws the interaction off the diagonal, nothing on it.
        QVERIFY(std::isnan(v->colorMap()->data()->cell(0, 0)));
        QVERIFY(same(v->colorMap()->data()->cell(1, 0), jnum(jt["interaction"][0][1])));
        // The CLI's document opened in the app draws the same joint table: its
        // item names are read back (they were dropped, and the merged reader's
        // joint had no items).
        const QString path = m_dir.filePath(QStringLiteral("joint.json"));
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray::fromStdString(j.dump()));
        }
        const QString guiJoint = t.toCsv();
        QString error;
        QVERIFY2(m_window->studies()->openStudyFile(path, &error), qPrintable(error));
        QVERIFY(v->setShow(QStringLiteral("joint")));
        QCOMPARE(v->dataTable().toCsv(), guiJoint);
    }
};

QTEST_MAIN(TestSuperWeightStudy)
#include "test_superweight_study.moc"
