// The compression study views draw exactly the study: the LASER heatmap's
// cells are the study's heatmap values (and the CSV written next to an
// export), the quantization plot's graphs are the study's series, in block
// order with the whole tensor last. Data: real studies of the llama-planted
// reference model (planted super weight at layer 1, row 13, col 57).

#include <cmath>

#include <QFile>
#include <QImage>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <qcustomplot.h>

#include "figure_export.h"
#include "studies/laser_heatmap_view.h"
#include "studies/quant_plot_view.h"
#include "superlens/core/analysis/compression_study.h"
#include "csv_rows.h"
#include "test_paths.h"

using namespace superlens;

namespace {

struct Studies {
    std::shared_ptr<const core::Model> model;
    std::shared_ptr<const core::LaserStudy> laser;
    std::shared_ptr<const core::QuantStudy> quant;
};

const Studies& studies() {
    static Studies s = [] {
        Studies x;
        auto m = core::Model::open(test::referenceModel("llama-planted"));
        if (!m) qFatal("%s", m.error().message.c_str());
        x.model = *m;
        core::Engine engine(x.model);
        core::CompressionStudyInputs in;
        in.textTokens = {1};
        for (int i = 0; i < 63; ++i) in.textTokens.push_back(3 + (i * 37) % 250);
        in.perplexity.context = 32;
        core::LaserStudyOptions lo;
        lo.types = {"down", "o"};
        lo.layers = {0, 1, 2, 3};
        lo.rhos = {0.05, 0.25, 1.0};
        auto laser = core::studyLaser(engine, in, {}, lo);
        if (!laser) qFatal("%s", laser.error().message.c_str());
        x.laser = std::make_shared<const core::LaserStudy>(std::move(laser).value());
        core::QuantStudyOptions qo;
        qo.bits = 4;
        qo.pattern = "model.layers.*.mlp.down_proj.weight";
        qo.blocks = {64, 1024, 0};
        qo.superWeights = {{1, 13, 57}};
        qo.actBits = 8;
        auto quant = core::studyQuant(engine, in, {}, qo);
        if (!quant) qFatal("%s", quant.error().message.c_str());
        x.quant = std::make_shared<const core::QuantStudy>(std::move(quant).value());
        return x;
    }();
    return s;
}

}  // namespace

class TestCompressionViews : public QObject {
    Q_OBJECT
private slots:
    void withoutAStudyTheViewsSayWhatToDo() {
        widgets::LaserHeatmapView laser;
        widgets::QuantPlotView quant;
        QVERIFY(!laser.hasData());
        QVERIFY(!quant.hasData());
        QVERIFY(laser.emptyMessage().contains(QStringLiteral("LASER sweep")));
        QVERIFY(quant.emptyMessage().contains(QStringLiteral("study quant --json")));
        QCOMPARE(laser.dataTable().rows.size(), 0);
    }

    void laserHeatmapCellsAreTheStudyAndItsCsv() {
        widgets::LaserHeatmapView v;
        v.resize(900, 600);
        v.setStudy(studies().laser);
        QVERIFY(v.hasData());
        QVERIFY(v.setMatrixType(QStringLiteral("down")));
        QVERIFY(v.setMetric(QStringLiteral("ppl")));
        const core::LaserHeatmap expected = studies().laser->heatmap("down", "ppl");
        QCOMPARE(v.shownHeatmap().values, expected.values);
        QTemporaryDir dir;
        QString error;
        QVERIFY2(widgets::exportFigure(v, dir.filePath("laser.png"), widgets::ExportOptions::oneColumn(), &error), qPrintable(error));
        const auto rows = test::readCsvRows(dir.filePath("laser.csv"));
        QCOMPARE(rows.size(), 1 + 4 * 3);
        QCOMPARE(rows[0], QStringList({"type", "metric", "layer", "rho", "value", "baseline", "shown", "delta_ci_lo", "delta_ci_hi"}));
        for (int i = 1; i < rows.size(); ++i) {
            const int l = (i - 1) / 3, r = (i - 1) % 3;
            QCOMPARE(rows[i][0], QStringLiteral("down"));
            QCOMPARE(rows[i][2].toInt(), expected.layers[static_cast<std::size_t>(l)]);
            QCOMPARE(rows[i][3].toDouble(), expected.rhos[static_cast<std::size_t>(r)]);
            QCOMPARE(rows[i][4].toDouble(), expected.at(static_cast<std::size_t>(l), static_cast<std::size_t>(r)));
            QCOMPARE(rows[i][5].toDouble(), studies().laser->baseline.ppl);
            // The colour map's cell (x = rho index, y = layer index) holds the same number.
            QCOMPARE(v.colorMap()->data()->cell(r, l), rows[i][6].toDouble());
            // The interval of the change from the unedited model, around that change.
            const double change = rows[i][4].toDouble() - rows[i][5].toDouble();
            QCOMPARE(rows[i][7].toDouble(), expected.deltaLo[static_cast<std::size_t>(l * 3 + r)]);
            QCOMPARE(rows[i][8].toDouble(), expected.deltaHi[static_cast<std::size_t>(l * 3 + r)]);
            QVERIFY(rows[i][7].toDouble() <= change + 1e-9 && change - 1e-9 <= rows[i][8].toDouble());
        }
        // Perplexity: log colour scale centred (geometrically) on the unedited value.
        const QCPRange range = v.colorMap()->dataRange();
        QVERIFY(std::abs(std::sqrt(range.lower * range.upper) / studies().laser->baseline.ppl - 1) < 1e-9);
        QCOMPARE(v.colorMap()->colorScale()->dataScaleType(), QCPAxis::stLogarithmic);
        // rho = 1 keeps every singular value: the cell is the baseline.
        QVERIFY(std::abs(expected.at(1, 2) / studies().laser->baseline.ppl - 1) < 1e-4);
        // A cell's label ends with "*" exactly when its interval of the change excludes 0.
        v.refresh();
        int starred = 0, expectedStars = 0;
        for (int i = 0; i < v.plot()->itemCount(); ++i) {
            auto* t = qobject_cast<QCPItemText*>(v.plot()->item(i));
            if (!t) continue;
            const auto l = static_cast<std::size_t>(std::lround(t->position->value())), r = static_cast<std::size_t>(std::lround(t->position->key()));
            const double lo = expected.deltaLo[l * 3 + r], hi = expected.deltaHi[l * 3 + r];
            const bool beyond = lo > 0 || hi < 0;
            QCOMPARE(t->text().endsWith(QLatin1Char('*')), beyond);
            starred += t->text().endsWith(QLatin1Char('*')) ? 1 : 0;
            expectedStars += beyond ? 1 : 0;
        }
        QCOMPARE(starred, expectedStars);
        QVERIFY(expectedStars > 0);
        QVERIFY(v.plot()->xAxis->label().contains(QStringLiteral("* = interval")));
    }

    void laserChangeModeShowsTheDifference() {
        widgets::LaserHeatmapView v;
        v.setStudy(studies().laser);
        v.setMatrixType(QStringLiteral("o"));
        v.setShowChange(true);
        const core::LaserHeatmap h = studies().laser->heatmap("o", "ppl");
        for (std::size_t l = 0; l < 4; ++l) {
            for (std::size_t r = 0; r < 3; ++r) {
                QCOMPARE(v.colorMap()->data()->cell(static_cast<int>(r), static_cast<int>(l)), h.at(l, r) - h.baseline);
            }
        }
        QCOMPARE(v.colorMap()->colorScale()->dataScaleType(), QCPAxis::stLinear);
    }

    void clickingACellProposesItsLaserEdit() {
        widgets::LaserHeatmapView v;
        v.setStudy(studies().laser);
        v.setMatrixType(QStringLiteral("down"));
        QSignalSpy spy(&v, &widgets::PlotView::ablationProposed);
        QSignalSpy layers(&v, &widgets::PlotView::layerSelected);
        QVERIFY(v.proposeCell(2, 0));
        QCOMPARE(spy.size(), 1);
        const QString spec = spy[0][0].toString();
        QCOMPARE(spec, QStringLiteral("laser:model.layers.2.mlp.down_proj.weight:rank=0.05"));
        QVERIFY(core::parseEdits({spec.toStdString()}, *studies().model).ok());
        QCOMPARE(layers[0][0].toInt(), 2);
        QVERIFY(!v.proposeCell(4, 0));
    }

    void aSingleRhoAndLayerStillDraw() {
        auto one = std::make_shared<core::LaserStudy>(*studies().laser);
        one->layers = {1};
        one->rhos = {0.05};
        widgets::LaserHeatmapView v;
        v.setStudy(one);
        QVERIFY2(v.hasData(), qPrintable(v.emptyMessage()));
        QCOMPARE(v.dataTable().rows.size(), 1);
        QCOMPARE(v.colorMap()->data()->cell(0, 0), studies().laser->heatmap("down", "ppl").at(1, 0));
    }

    void quantGraphsAreTheStudySeriesAndItsCsv() {
        widgets::QuantPlotView v;
        v.resize(900, 600);
        v.setStudy(studies().quant);
        QVERIFY2(v.hasData(), qPrintable(v.emptyMessage()));
        // Block order: per token, then ascending sizes, the whole tensor last.
        QCOMPARE(v.blockOrder(), (std::vector<std::int64_t>{-1, 64, 1024, 0}));
        const auto series = studies().quant->plot("ppl");
        QCOMPARE(v.shownSeries().size(), std::size_t{4});
        QTemporaryDir dir;
        QString error;
        QVERIFY2(widgets::exportFigure(v, dir.filePath("quant.svg"), widgets::ExportOptions::oneColumn(), &error), qPrintable(error));
        const auto rows = test::readCsvRows(dir.filePath("quant.csv"));
        QCOMPARE(rows[0], QStringList({"series", "block", "block_label", "x", "metric", "value", "ci_lo", "ci_hi"}));
        int row = 1;
        for (std::size_t s = 0; s < series.size(); ++s) {
            QCPGraph* g = v.seriesGraph(s);
            QVERIFY(g);
            QCOMPARE(g->dataCount(), static_cast<int>(series[s].blocks.size()));
            for (std::size_t i = 0; i < series[s].blocks.size(); ++i, ++row) {
                QCOMPARE(rows[row][0], QString::fromStdString(series[s].name));
                QCOMPARE(rows[row][1].toLongLong(), series[s].blocks[i]);
                QCOMPARE(rows[row][5].toDouble(), series[s].values[i]);
                // The graph point with this x is the same number (graph data is sorted by x).
                const double x = rows[row][3].toDouble();
                auto it = g->data()->findBegin(x, false);
                QCOMPARE(it->key, x);
                QCOMPARE(it->value, rows[row][5].toDouble());
                // The interval (study default: 95%, 1000 resamples) in the CSV and as the error bar around the point.
                QCOMPARE(rows[row][6].toDouble(), series[s].lo[i]);
                QCOMPARE(rows[row][7].toDouble(), series[s].hi[i]);
                QCPErrorBars* bars = v.seriesErrorBars(s);
                QVERIFY(bars);
                const int k = static_cast<int>(it - g->data()->constBegin());
                QCOMPARE(bars->data()->at(k).errorMinus, series[s].values[i] - series[s].lo[i]);
                QCOMPARE(bars->data()->at(k).errorPlus, series[s].hi[i] - series[s].values[i]);
                QVERIFY(series[s].lo[i] <= series[s].values[i] && series[s].values[i] <= series[s].hi[i]);
            }
        }
        QCOMPARE(rows[row][0], QStringLiteral("baseline"));
        QCOMPARE(rows[row][5].toDouble(), studies().quant->baseline.ppl);
        QCOMPARE(row + 1, rows.size());
        // Fig. 7's shape on the planted model: at block = tensor, keeping the super weight stays nearer the baseline.
        const double base = studies().quant->baseline.ppl;
        QVERIFY(std::abs(series[1].values[2] - base) < std::abs(series[0].values[2] - base));
    }

    void quantMetricChoiceAndLogAxis() {
        widgets::QuantPlotView v;
        v.setStudy(studies().quant);
        QVERIFY(!v.setMetric(QStringLiteral("accuracy")));  // not measured in this study
        QVERIFY(v.setMetric(QStringLiteral("nll")));
        QCOMPARE(v.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        QCOMPARE(v.seriesGraph(0)->data()->at(0)->value, studies().quant->plot("nll")[0].values[0]);
    }

    void studiesReadBackFromJsonDrawTheSame() {
        auto laser = core::parseLaserStudyJson(studies().laser->toJson(), "laser.json");
        QVERIFY(laser.ok());
        widgets::LaserHeatmapView a, b;
        a.setStudy(studies().laser);
        b.setStudy(std::make_shared<const core::LaserStudy>(std::move(laser).value()));
        QCOMPARE(b.dataTable().toCsv(), a.dataTable().toCsv());
        auto quant = core::parseQuantStudyJson(studies().quant->toJson(), "quant.json");
        QVERIFY(quant.ok());
        widgets::QuantPlotView c, d;
        c.setStudy(studies().quant);
        d.setStudy(std::make_shared<const core::QuantStudy>(std::move(quant).value()));
        QCOMPARE(d.dataTable().toCsv(), c.dataTable().toCsv());
        QVERIFY(d.seriesErrorBars(0) && d.seriesErrorBars(0)->dataCount() == c.seriesErrorBars(0)->dataCount());
    }

    void noIntervalsNoErrorBars() {
        auto quant = core::parseQuantStudyJson(studies().quant->toJson(), "quant.json");
        QVERIFY(quant.ok());
        core::QuantStudy q = std::move(quant).value();
        for (auto& p : q.points) p.metrics.ci.clear();
        widgets::QuantPlotView v;
        v.setStudy(std::make_shared<const core::QuantStudy>(std::move(q)));
        QVERIFY(v.hasData());
        QVERIFY(v.seriesGraph(0));
        QCOMPARE(v.seriesErrorBars(0), nullptr);
    }

    void exportsAreValidFiles() {
        QTemporaryDir dir;
        widgets::LaserHeatmapView laser;
        laser.setStudy(studies().laser);
        widgets::QuantPlotView quant;
        quant.setStudy(studies().quant);
        for (widgets::PlotView* v : QList<widgets::PlotView*>{&laser, &quant}) {
            QString error;
            const QString base = dir.filePath(v->kind());
            QVERIFY2(widgets::exportFigure(*v, base + ".pdf", widgets::ExportOptions::oneColumn(), &error), qPrintable(error));
            QVERIFY2(widgets::exportFigure(*v, base + ".png", widgets::ExportOptions::twoColumn(), &error), qPrintable(error));
            QFile pdf(base + ".pdf");
            QVERIFY(pdf.open(QIODevice::ReadOnly));
            QCOMPARE(pdf.read(4), QByteArray("%PDF"));
            QCOMPARE(QImage(base + ".png").width(), 7 * 300);
            QVERIFY(QFile::exists(base + ".csv"));
        }
    }
};

QTEST_MAIN(TestCompressionViews)
#include "test_compression_views.moc"
