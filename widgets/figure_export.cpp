#include "figure_export.h"

#include <cmath>

#include <QDir>
#include <QFileInfo>
#include <QPageSize>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <qcustomplot.h>

#include "plot_view.h"

namespace superlens::widgets {

ExportOptions ExportOptions::oneColumn() { return ExportOptions{}; }

ExportOptions ExportOptions::twoColumn() {
    ExportOptions o;
    o.widthInches = 7.0;
    o.heightInches = 3.2;
    o.fontPoints = 9.0;
    return o;
}

int ExportOptions::widthPoints() const { return static_cast<int>(std::lround(widthInches * 72.0)); }
int ExportOptions::heightPoints() const { return static_cast<int>(std::lround(heightInches * 72.0)); }

bool figureFormatFromPath(const QString& path, FigureFormat* format) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix == QLatin1String("pdf")) *format = FigureFormat::Pdf;
    else if (suffix == QLatin1String("svg")) *format = FigureFormat::Svg;
    else if (suffix == QLatin1String("png")) *format = FigureFormat::Png;
    else return false;
    return true;
}

QString figureFormatSuffix(FigureFormat format) {
    switch (format) {
        case FigureFormat::Pdf: return QStringLiteral("pdf");
        case FigureFormat::Svg: return QStringLiteral("svg");
        case FigureFormat::Png: return QStringLiteral("png");
    }
    return {};
}

QString csvPathFor(const QString& figurePath) {
    const QFileInfo info(figurePath);
    return info.dir().filePath(info.completeBaseName() + QStringLiteral(".csv"));
}

namespace {

// Restores the on-screen style however the export ends.
class ExportStyleScope {
public:
    ExportStyleScope(PlotView& view, const PlotStyle& style) : m_view(view), m_saved(view.plotStyle()) { m_view.setPlotStyle(style); }
    ~ExportStyleScope() { m_view.setPlotStyle(m_saved); }

private:
    PlotView& m_view;
    PlotStyle m_saved;
};

bool renderVector(QCustomPlot* plot, QPaintDevice* device, int w, int h) {
    QCPPainter painter;
    if (!painter.begin(device)) return false;
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    plot->toPainter(&painter, w, h);
    painter.end();
    return true;
}

}  // namespace

bool exportFigure(PlotView& view, const QString& path, const ExportOptions& options, QString* error) {
    auto setError = [&](const QString& message) {
        if (error) *error = message;
        return false;
    };
    FigureFormat format;
    if (!figureFormatFromPath(path, &format)) return setError(path + QStringLiteral(": unknown figure format (use .pdf, .svg or .png)"));
    if (!view.snapshot() || !view.hasData()) {
        return setError(QStringLiteral("the %1 view has nothing to export yet (%2)").arg(view.kind(), view.emptyMessage()));
    }
    const QFileInfo info(path);
    if (!info.absoluteDir().exists()) return setError(path + QStringLiteral(": folder does not exist"));

    const int w = options.widthPoints();
    const int h = options.heightPoints();
    {
        ExportStyleScope scope(view, PlotStyle::figure(options.fontFamily, options.fontPoints));
        if (!view.hasData()) return setError(QStringLiteral("the %1 view has nothing to export").arg(view.kind()));
        QCustomPlot* plot = view.plot();
        bool ok = false;
        switch (format) {
            case FigureFormat::Pdf: {
                QPdfWriter writer(path);
                writer.setCreator(QStringLiteral("SuperLens"));
                writer.setTitle(view.title());
                writer.setResolution(72);  // one device unit = one point
                writer.setPageSize(QPageSize(QSizeF(w, h), QPageSize::Point, QString(), QPageSize::ExactMatch));
                writer.setPageMargins(QMarginsF(0, 0, 0, 0));
                ok = renderVector(plot, &writer, w, h);
                break;
            }
            case FigureFormat::Svg: {
                QSvgGenerator generator;
                generator.setFileName(path);
                generator.setSize(QSize(w, h));
                generator.setViewBox(QRect(0, 0, w, h));
                generator.setResolution(72);
                generator.setTitle(view.title());
                generator.setDescription(QStringLiteral("SuperLens %1 figure").arg(view.kind()));
                ok = renderVector(plot, &generator, w, h);
                break;
            }
            case FigureFormat::Png:
                ok = plot->savePng(path, w, h, options.dpi / 72.0, -1, options.dpi, QCP::ruDotsPerInch);
                break;
        }
        if (!ok || !QFileInfo::exists(path)) return setError(path + QStringLiteral(": cannot write the figure"));
    }
    if (options.writeCsv) {
        QString csvError;
        if (!view.dataTable().write(csvPathFor(path), &csvError)) return setError(csvError);
    }
    return true;
}

QStringList exportAllFigures(const QList<PlotView*>& views, const QString& directory, const QList<FigureFormat>& formats,
                             const ExportOptions& options, QString* error) {
    QStringList written;
    QDir dir(directory);
    for (PlotView* view : views) {
        if (!view->hasData()) continue;
        for (FigureFormat f : formats) {
            const QString path = dir.filePath(view->kind() + QLatin1Char('.') + figureFormatSuffix(f));
            QString e;
            if (!exportFigure(*view, path, options, &e)) {
                if (error) *error = e;
                continue;
            }
            written << path;
        }
    }
    return written;
}

}  // namespace superlens::widgets
