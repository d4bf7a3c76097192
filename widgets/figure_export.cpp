#include "figure_export.h"

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

#include <QDir>
#include <QFontMetricsF>
#include <QMap>
#include <QSet>
#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>
#include <QPageSize>
#include <QPdfWriter>
#include <QSvgGenerator>
#include <qcustomplot.h>

#include "plot_style.h"
#include "plot_view.h"
#include "superlens/core/system/output_file.h"

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

QList<QPair<QString, QString>> FigureProvenance::fields() const {
    QList<QPair<QString, QString>> f{{QStringLiteral("superlens-version"), version},
                                     {QStringLiteral("model"), modelPath},
                                     {QStringLiteral("model-fingerprint"), modelFingerprint},
                                     {QStringLiteral("prompt"), prompt},
                                     {QStringLiteral("ids"), ids}};
    if (!image.isEmpty()) f.append({QStringLiteral("image"), image});
    f.append({QStringLiteral("edits"), edits.join(QStringLiteral(" ; "))});
    f.append({QStringLiteral("command"), command});
    return f;
}

QByteArray FigureProvenance::toJson() const {
    QJsonObject o;
    o.insert(QStringLiteral("superlens_version"), version);
    o.insert(QStringLiteral("model"), modelPath);
    o.insert(QStringLiteral("model_fingerprint"), modelFingerprint);
    o.insert(QStringLiteral("prompt"), prompt);
    o.insert(QStringLiteral("ids"), ids);
    if (!image.isEmpty()) o.insert(QStringLiteral("image"), image);
    o.insert(QStringLiteral("edits"), QJsonArray::fromStringList(edits));
    o.insert(QStringLiteral("command"), command);
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

bool FigureProvenance::fromJson(const QByteArray& json, FigureProvenance* out) {
    QJsonParseError err;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError || !doc.isObject()) return false;
    const QJsonObject o = doc.object();
    FigureProvenance p;
    p.version = o.value(QStringLiteral("superlens_version")).toString();
    p.modelPath = o.value(QStringLiteral("model")).toString();
    p.modelFingerprint = o.value(QStringLiteral("model_fingerprint")).toString();
    p.prompt = o.value(QStringLiteral("prompt")).toString();
    p.ids = o.value(QStringLiteral("ids")).toString();
    p.image = o.value(QStringLiteral("image")).toString();
    for (const auto& e : o.value(QStringLiteral("edits")).toArray()) p.edits << e.toString();
    p.command = o.value(QStringLiteral("command")).toString();
    *out = p;
    return true;
}

QString shellQuote(const QString& argument) {
    static const QString safe = QStringLiteral("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=+@%");
    bool plain = !argument.isEmpty();
    for (QChar c : argument) plain = plain && safe.contains(c);
    if (plain) return argument;
    QString quoted = argument;
    quoted.replace(QLatin1String("'"), QLatin1String("'\\''"));
    return QLatin1Char('\'') + quoted + QLatin1Char('\'');
}

bool splitShellWords(const QString& line, QStringList* words) {
    words->clear();
    QString word;
    bool inWord = false, single = false, dbl = false;
    for (qsizetype i = 0; i < line.size(); ++i) {
        const QChar c = line[i];
        if (single) {
            if (c == QLatin1Char('\'')) single = false;
            else word += c;
            continue;
        }
        if (dbl) {
            if (c == QLatin1Char('"')) dbl = false;
            else if (c == QLatin1Char('\\') && i + 1 < line.size()) word += line[++i];
            else word += c;
            continue;
        }
        if (c.isSpace()) {
            if (inWord) *words << word;
            word.clear();
            inWord = false;
        } else if (c == QLatin1Char('\'')) {
            single = inWord = true;
        } else if (c == QLatin1Char('"')) {
            dbl = inWord = true;
        } else if (c == QLatin1Char('\\') && i + 1 < line.size()) {
            word += line[++i];
            inWord = true;
        } else {
            word += c;
            inWord = true;
        }
    }
    if (single || dbl) return false;
    if (inWord) *words << word;
    return true;
}

QString figureCommandLine(const FigureCommand& c) {
    QStringList w{QStringLiteral("superlens-cli"), QStringLiteral("figure"), c.kinds.join(QLatin1Char(','))};
    if (!c.study.isEmpty()) w << QStringLiteral("--study") << c.study;
    else w << c.model;
    if (!c.study.isEmpty()) {
    } else if (!c.image.isEmpty()) {
        w << (c.image.endsWith(QLatin1String(".npy"), Qt::CaseInsensitive) ? QStringLiteral("--pixels") : QStringLiteral("--image")) << c.image;
    } else if (!c.prompt.isEmpty() || c.ids.isEmpty()) {
        w << QStringLiteral("--prompt") << c.prompt;
    } else {
        w << QStringLiteral("--ids") << c.ids;
    }
    for (const QString& e : c.baselineEdits) w << QStringLiteral("--baseline-edit") << e;
    if (!c.compareWith.isEmpty()) w << QStringLiteral("--compare-with") << c.compareWith;
    if (c.overlayB) w << QStringLiteral("--overlay-b");
    if (!c.imatrix.isEmpty()) w << QStringLiteral("--imatrix") << c.imatrix;
    for (const QString& e : c.edits) w << QStringLiteral("--edit") << e;
    if (!c.compute.isEmpty() && c.compute != QLatin1String("fp32")) w << QStringLiteral("--compute") << c.compute;
    if (c.layer >= 0) w << QStringLiteral("--layer") << QString::number(c.layer);
    for (const auto& [key, value] : c.viewState) w << QStringLiteral("--") + key << value;
    const ExportOptions& o = c.options;
    w << QStringLiteral("--style") << o.style << QStringLiteral("--width") << QString::number(o.widthInches) << QStringLiteral("--height")
      << QString::number(o.heightInches) << QStringLiteral("--font-size") << QString::number(o.fontPoints) << QStringLiteral("--dpi")
      << QString::number(o.dpi);
    if (!o.writeCsv) w << QStringLiteral("--no-csv");
    w << QStringLiteral("--out") << c.out;
    QStringList quoted;
    for (const QString& a : w) quoted << shellQuote(a);
    return quoted.join(QLatin1Char(' '));
}

namespace {

QByteArray provenanceToken(const FigureProvenance& p) {
    return QByteArray(kProvenanceBegin) + p.toJson().toBase64() + QByteArray(kProvenanceEnd);
}

QString xmlEscaped(const QString& text) { return text.toHtmlEscaped(); }

// An XMP packet: Dublin Core title and creator tool, one element per
// provenance field, and the whole record as the marked base64 token.
QByteArray xmpPacket(const FigureProvenance& p, const QString& caption) {
    QString x = QStringLiteral(
        "<?xpacket begin=\"\uFEFF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
        "<rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\" "
        "xmlns:superlens=\"urn:superlens:provenance:1\">\n");
    x += QStringLiteral("<dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">%1</rdf:li></rdf:Alt></dc:title>\n").arg(xmlEscaped(caption));
    x += QStringLiteral("<xmp:CreatorTool>SuperLens %1</xmp:CreatorTool>\n").arg(xmlEscaped(p.version));
    for (const auto& [key, value] : p.fields()) x += QStringLiteral("<superlens:%1>%2</superlens:%1>\n").arg(key, xmlEscaped(value));
    x += QStringLiteral("<superlens:provenance>%1</superlens:provenance>\n").arg(QString::fromLatin1(provenanceToken(p)));
    x += QStringLiteral("</rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end=\"w\"?>");
    return x.toUtf8();
}

// QSvgGenerator writes no <metadata>: add one after the <desc> element.
bool addSvgMetadata(const QString& path, const FigureProvenance& p) {
    QFile in(path);
    if (!in.open(QIODevice::ReadOnly)) return false;
    QByteArray svg = in.readAll();
    in.close();
    QByteArray meta = "<metadata>\n<superlens:provenance xmlns:superlens=\"urn:superlens:provenance:1\"";
    for (const auto& [key, value] : p.fields()) meta += " " + key.toUtf8() + "=\"" + xmlEscaped(value).replace(QLatin1Char('\n'), QStringLiteral("&#10;")).toUtf8() + "\"";
    meta += ">" + provenanceToken(p) + "</superlens:provenance>\n</metadata>\n";
    qsizetype at = svg.indexOf("</desc>");
    if (at >= 0) {
        at += 7;
    } else {
        const qsizetype open = svg.indexOf("<svg");
        at = open < 0 ? -1 : svg.indexOf('>', open) + 1;
    }
    if (at <= 0) return false;
    svg.insert(at, "\n" + meta);
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly)) return false;
    out.write(svg);
    return out.commit();
}

}  // namespace

bool readFigureProvenance(const QString& path, FigureProvenance* out, QString* error) {
    auto fail = [&](const QString& m) {
        if (error) *error = path + QStringLiteral(": ") + m;
        return false;
    };
    FigureFormat format;
    if (!figureFormatFromPath(path, &format)) return fail(QStringLiteral("not a figure (.pdf, .svg or .png)"));
    QByteArray text;
    if (format == FigureFormat::Png) {
        QImageReader reader(path, "PNG");
        if (!reader.canRead()) return fail(QStringLiteral("cannot read the PNG"));
        text = reader.text(QStringLiteral("SuperLens-Provenance")).toLatin1();
    } else {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) return fail(QStringLiteral("cannot read: ") + f.errorString());
        if (f.size() > (qint64{256} << 20)) return fail(QStringLiteral("larger than 256 MB"));
        text = f.readAll();
    }
    const qsizetype b = text.indexOf(kProvenanceBegin);
    const qsizetype e = b < 0 ? -1 : text.indexOf(kProvenanceEnd, b);
    if (b < 0 || e < 0) return fail(QStringLiteral("no SuperLens provenance in this file (exported before provenance was embedded, or by another program)"));
    const qsizetype start = b + static_cast<qsizetype>(qstrlen(kProvenanceBegin));
    const auto decoded = QByteArray::fromBase64Encoding(text.mid(start, e - start), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || !FigureProvenance::fromJson(*decoded, out)) return fail(QStringLiteral("damaged SuperLens provenance record"));
    return true;
}

FigureExportScope::FigureExportScope(PlotView& view, const ExportOptions& options, const std::function<void(QCustomPlot*)>& beforeLayout)
    : m_view(view), m_saved(view.plotStyle()), m_w(options.widthPoints()), m_h(options.heightPoints()) {
    PlotStyle style = PlotStyle::figure(options.fontFamily, options.fontPoints);
    style.figureHeight = m_h;
    m_view.setPlotStyle(style);
    if (m_view.hasData() && beforeLayout) beforeLayout(m_view.plot());
    if (m_view.hasData() && options.fitLayout) m_layout = fitFigureLayout(m_view.plot(), m_w, m_h);
}

// Restores the on-screen style however the export ends.
FigureExportScope::~FigureExportScope() {
    m_view.setPlotStyle(m_saved);
}

namespace {

// Writes a w x h unit figure whose content `draw` paints: PDF and SVG as
// vectors (1 unit = 1 pt), PNG at dpi with non-cosmetic pens so hairlines
// scale with the figure.
bool writeFigureFile(const QString& path, FigureFormat format, int w, int h, int dpi, const QString& caption, const QString& description,
                     const FigureProvenance& provenance,
                     const std::function<void(QCPPainter*)>& draw) {
    auto paintOn = [&](QPaintDevice* device, double scale) {
        QCPPainter painter;
        if (!painter.begin(device)) return false;
        painter.setMode(QCPPainter::pmNoCaching);
        if (scale == 1.0) {
            painter.setMode(QCPPainter::pmVectorized);
        } else {
            painter.setMode(QCPPainter::pmNonCosmetic);
            painter.scale(scale, scale);
        }
        draw(&painter);
        painter.end();
        return true;
    };
    switch (format) {
        case FigureFormat::Pdf: {
            QPdfWriter writer(path);
            writer.setCreator(QStringLiteral("SuperLens"));
            writer.setTitle(caption);
            if (!provenance.isEmpty()) writer.setDocumentXmpMetadata(xmpPacket(provenance, caption));
            writer.setResolution(72);  // one device unit = one point
            writer.setPageSize(QPageSize(QSizeF(w, h), QPageSize::Point, QString(), QPageSize::ExactMatch));
            writer.setPageMargins(QMarginsF(0, 0, 0, 0));
            return paintOn(&writer, 1.0);
        }
        case FigureFormat::Svg: {
            QSvgGenerator generator;
            generator.setFileName(path);
            generator.setSize(QSize(w, h));
            generator.setViewBox(QRect(0, 0, w, h));
            generator.setResolution(72);
            // QSvgGenerator writes both as they are: escape them (token labels such as '<s>' are markup otherwise).
            generator.setTitle(caption.toHtmlEscaped());
            generator.setDescription(description.toHtmlEscaped());
            if (!paintOn(&generator, 1.0)) return false;
            return provenance.isEmpty() || addSvgMetadata(path, provenance);
        }
        case FigureFormat::Png: {
            const double scale = dpi / 72.0;
            QImage image(static_cast<int>(std::lround(w * scale)), static_cast<int>(std::lround(h * scale)), QImage::Format_ARGB32);
            if (image.isNull()) return false;
            image.fill(Qt::white);
            if (!paintOn(&image, scale)) return false;
            image.setDotsPerMeterX(static_cast<int>(std::lround(dpi / 0.0254)));
            image.setDotsPerMeterY(static_cast<int>(std::lround(dpi / 0.0254)));
            image.setText(QStringLiteral("Title"), caption);
            image.setText(QStringLiteral("Description"), description);
            image.setText(QStringLiteral("Software"), QStringLiteral("SuperLens"));
            if (!provenance.isEmpty()) {
                for (const auto& [key, value] : provenance.fields()) image.setText(QStringLiteral("SuperLens-") + key, value);
                image.setText(QStringLiteral("SuperLens-Provenance"), QString::fromLatin1(provenanceToken(provenance)));
            }
            return image.save(path, "PNG");
        }
    }
    return false;
}

// The figure goes to a temporary beside `path`, renamed over it when complete:
// a reader never finds a torn figure under the final name, and nothing is
// written into a model folder (both rules: core/system/output_file.h).
// Returns the error, empty on success.
QString writeFigureAtomically(const QString& path, FigureFormat format, int w, int h, int dpi, const QString& caption, const QString& description,
                              const FigureProvenance& provenance, const std::function<void(QCPPainter*)>& draw) {
    const std::filesystem::path target(path.toStdU16String());
    if (auto ok = core::checkOutputFile(target, "the figure"); !ok) return QString::fromStdString(ok.error().message);
    auto tmp = core::makeTemporaryBeside(target);
    if (!tmp) return QString::fromStdString(tmp.error().message);
    const QString tmpPath = QString::fromStdU16String(tmp->u16string());
    if (!writeFigureFile(tmpPath, format, w, h, dpi, caption, description, provenance, draw) || QFileInfo(tmpPath).size() == 0) {
        std::error_code ec;
        std::filesystem::remove(*tmp, ec);
        return path + QStringLiteral(": cannot write the figure");
    }
    if (auto ok = core::commitTemporary(*tmp, target); !ok) return QString::fromStdString(ok.error().message);
    return {};
}

}  // namespace

static QStringList provenanceComments(const FigureProvenance& p) {
    QStringList out;
    if (p.isEmpty()) return out;
    for (const auto& [key, value] : p.fields()) out << key + QStringLiteral(": ") + value;
    return out;
}

static QString figureCaption(const PlotView& view, const FigureLayoutReport& layout) {
    QString caption = view.title();
    if (!layout.fullTitles.isEmpty()) caption += QStringLiteral(": ") + layout.fullTitles.join(QStringLiteral("; "));
    return caption;
}

bool exportFigure(PlotView& view, const QString& path, const ExportOptions& options, QString* error, ExportReport* report) {
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
        FigureExportScope scope(view, options);
        if (!view.hasData()) return setError(QStringLiteral("the %1 view has nothing to export").arg(view.kind()));
        const QString caption = figureCaption(view, scope.layout());
        if (report) *report = {scope.layout(), caption};
        QCustomPlot* plot = view.plot();
        const QString failed = writeFigureAtomically(path, format, w, h, options.dpi, caption,
                                                     QStringLiteral("SuperLens %1 figure. %2").arg(view.kind(), caption), options.provenance,
                                                     [&](QCPPainter* painter) { plot->toPainter(painter, w, h); });
        if (!failed.isEmpty()) return setError(failed);
    }
    if (options.writeCsv) {
        QString csvError;
        FigureTable table = view.dataTable();
        table.comments = provenanceComments(options.provenance);
        if (!table.write(csvPathFor(path), &csvError)) return setError(csvError);
    }
    return true;
}

namespace {

// Identity of a legend entry as drawn: two panels that draw the same entry
// can share one legend.
QString legendKey(const QCPAbstractPlottable* pl) {
    QString key = pl->name() + QLatin1Char('|') + QLatin1String(pl->metaObject()->className()) + QLatin1Char('|') +
                  pl->pen().color().name(QColor::HexArgb) + QLatin1Char('|') + QString::number(static_cast<int>(pl->pen().style())) +
                  QLatin1Char('|') + pl->brush().color().name(QColor::HexArgb) + QLatin1Char('|') +
                  QString::number(static_cast<int>(pl->brush().style()));
    if (auto* g = qobject_cast<const QCPGraph*>(pl)) {
        key += QLatin1Char('|') + QString::number(static_cast<int>(g->scatterStyle().shape())) + QLatin1Char('|') +
               QString::number(static_cast<int>(g->lineStyle()));
    }
    return key;
}

// (legend, plottable) of every entry in the legends inside axis rects.
QList<QPair<QCPLegend*, QCPAbstractPlottable*>> insetLegendEntries(QCustomPlot* plot) {
    QList<QPair<QCPLegend*, QCPAbstractPlottable*>> out;
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPLayoutElement* el : rect->insetLayout()->elements(false)) {
            auto* legend = qobject_cast<QCPLegend*>(el);
            if (!legend || !legend->visible()) continue;
            for (int i = 0; i < legend->itemCount(); ++i) {
                if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) out.push_back({legend, item->plottable()});
            }
        }
    }
    return out;
}

}  // namespace

bool exportMultiPanelFigure(const QList<PlotView*>& views, const QString& path, const ExportOptions& options, QString* error,
                            MultiPanelReport* report) {
    auto setError = [&](const QString& message) {
        if (error) *error = message;
        return false;
    };
    FigureFormat format;
    if (!figureFormatFromPath(path, &format)) return setError(path + QStringLiteral(": unknown figure format (use .pdf, .svg or .png)"));
    if (views.isEmpty()) return setError(QStringLiteral("no views to export"));
    if (views.size() > 26) return setError(QStringLiteral("at most 26 panels (a-z)"));
    for (PlotView* v : views) {
        if (!v->snapshot() || !v->hasData()) return setError(QStringLiteral("the %1 view has nothing to export yet (%2)").arg(v->kind(), v->emptyMessage()));
    }
    const QFileInfo info(path);
    if (!info.absoluteDir().exists()) return setError(path + QStringLiteral(": folder does not exist"));

    const PlotStyle figureStyle = PlotStyle::figure(options.fontFamily, options.fontPoints);
    const double pad = 3.0;
    const int W = options.widthPoints();
    const int n = static_cast<int>(views.size());
    const int cols = (options.widthInches >= 5.0 && n >= 2) ? 2 : 1;
    const int rows = (n + cols - 1) / cols;
    const int panelH = options.heightPoints();

    // Entries drawn the same in several panels go to one shared legend.
    QMap<QString, int> keyCount;
    for (PlotView* v : views) {
        const PlotStyle saved = v->plotStyle();
        v->setPlotStyle(figureStyle);
        QSet<QString> seen;
        for (const auto& [legend, pl] : insetLegendEntries(v->plot())) seen.insert(legendKey(pl));
        for (const QString& k : seen) keyCount[k] += 1;
        v->setPlotStyle(saved);
    }
    QStringList sharedKeys;
    for (auto it = keyCount.cbegin(); it != keyCount.cend(); ++it) {
        if (it.value() >= 2) sharedKeys << it.key();
    }

    // The shared legend: a small plot holding only a legend with copies of the entries.
    std::unique_ptr<QCustomPlot> strip;
    int stripH = 0;
    QStringList sharedNames;
    QFont letterFont(options.fontFamily);
    letterFont.setPixelSize(std::max(1, static_cast<int>(std::lround(options.fontPoints * 1.15))));
    letterFont.setBold(true);
    const QFontMetricsF letterMetrics(letterFont);
    const int letterH = static_cast<int>(std::ceil(pad + letterMetrics.ascent() + letterMetrics.descent()));

    std::vector<std::unique_ptr<FigureExportScope>> scopes;
    std::vector<QRect> boxes;
    for (int i = 0; i < n; ++i) {
        const int row = i / cols;
        const int inRow = std::min(cols, n - row * cols);
        const int col = i % cols;
        const int pw = W / inRow;
        boxes.push_back(QRect(col * pw, row * panelH, (col == inRow - 1) ? W - col * pw : pw, panelH));
    }
    QList<QCPAbstractPlottable*> sharedExamples;
    for (int i = 0; i < n; ++i) {
        ExportOptions po = options;
        po.widthInches = boxes[static_cast<std::size_t>(i)].width() / 72.0;
        po.heightInches = (boxes[static_cast<std::size_t>(i)].height() - letterH) / 72.0;
        scopes.push_back(std::make_unique<FigureExportScope>(*views[i], po, [&](QCustomPlot* plot) {
            for (const auto& [legend, pl] : insetLegendEntries(plot)) {
                const QString key = legendKey(pl);
                if (!sharedKeys.contains(key)) continue;
                if (!sharedNames.contains(pl->name())) {
                    sharedNames << pl->name();
                    sharedExamples << pl;
                }
                pl->removeFromLegend(legend);
                if (legend->itemCount() == 0) legend->setVisible(false);
            }
        }));
    }
    if (!sharedExamples.isEmpty()) {
        strip = std::make_unique<QCustomPlot>();
        QCPAxisRect* rect = strip->axisRect();
        QCPLegend* legend = strip->legend;
        rect->insetLayout()->take(legend);
        strip->plotLayout()->take(rect);
        strip->plotLayout()->simplify();
        strip->plotLayout()->addElement(0, 0, legend);
        rect->setVisible(false);  // its axes and the entry copies (no data) draw nothing
        legend->setVisible(true);
        for (QCPAbstractPlottable* src : sharedExamples) {
            QCPAbstractPlottable* copy = nullptr;
            if (auto* g = qobject_cast<QCPGraph*>(src)) {
                QCPGraph* c = strip->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
                c->setLineStyle(g->lineStyle());
                // applyPlotStyle below shrinks markers for paper once more: undo that for the copy.
                QCPScatterStyle scatter = g->scatterStyle();
                scatter.setSize(scatter.size() / kPaperMarkerScale);
                c->setScatterStyle(scatter);
                copy = c;
            } else {
                copy = new QCPBars(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
            }
            copy->setName(src->name());
            copy->setPen(src->pen());
            copy->setBrush(src->brush());
            if (!legend->hasItemWithPlottable(copy)) copy->addToLegend(legend);
        }
        applyPlotStyle(strip.get(), figureStyle);
        legend->setBorderPen(Qt::NoPen);
        legend->setBrush(Qt::NoBrush);
        wrapLegend(legend, W - 2 * pad);
        stripH = legend->minimumOuterSizeHint().height() + static_cast<int>(pad);
    }
    const int H = rows * panelH + stripH;

    QStringList captionParts;
    MultiPanelReport r;
    r.heightInches = H / 72.0;
    r.sharedLegend = sharedNames;
    for (int i = 0; i < n; ++i) {
        const QString letter = QString(QChar(QLatin1Char(static_cast<char>('a' + i))));
        PanelReport pr;
        pr.letter = letter;
        pr.kind = views[i]->kind();
        pr.layout = scopes[static_cast<std::size_t>(i)]->layout();
        if (options.writeCsv) pr.csv = info.dir().filePath(info.completeBaseName() + QLatin1Char('_') + letter + QStringLiteral(".csv"));
        QString part = QStringLiteral("(%1) %2").arg(letter, views[i]->title());
        if (!pr.layout.fullTitles.isEmpty()) part += QStringLiteral(": ") + pr.layout.fullTitles.join(QStringLiteral("; "));
        captionParts << part;
        r.panels << pr;
    }
    r.caption = captionParts.join(QStringLiteral(" "));

    const QColor ink = figureStyle.foreground;
    auto draw = [&](QCPPainter* painter) {
        painter->fillRect(QRectF(0, 0, W, H), Qt::white);
        if (strip) {
            painter->save();
            painter->translate(0, pad);
            strip->toPainter(painter, W, stripH - static_cast<int>(pad));
            painter->restore();
        }
        for (int i = 0; i < n; ++i) {
            const QRect box = boxes[static_cast<std::size_t>(i)].translated(0, stripH);
            painter->save();
            painter->translate(box.left(), box.top() + letterH);
            views[i]->plot()->toPainter(painter, box.width(), box.height() - letterH);
            painter->restore();
            painter->save();
            painter->setFont(letterFont);
            painter->setPen(ink);
            painter->drawText(QPointF(box.left() + pad, box.top() + pad + letterMetrics.ascent()), r.panels[i].letter);
            painter->restore();
        }
    };
    if (const QString failed = writeFigureAtomically(path, format, W, H, options.dpi, r.caption, QStringLiteral("SuperLens multi-panel figure. ") + r.caption,
                                                     options.provenance, draw);
        !failed.isEmpty()) {
        return setError(failed);
    }
    scopes.clear();  // back to the screen style before reading the tables
    if (options.writeCsv) {
        for (int i = 0; i < n; ++i) {
            QString csvError;
            FigureTable table = views[i]->dataTable();
            table.comments = provenanceComments(options.provenance);
            table.comments << QStringLiteral("panel: %1 (%2)").arg(r.panels[i].letter, r.panels[i].kind);
            if (!table.write(r.panels[i].csv, &csvError)) return setError(csvError);
        }
    }
    if (report) *report = r;
    return true;
}

QStringList exportAllFigures(const QList<PlotView*>& views, const QString& directory, const QList<FigureFormat>& formats,
                             const ExportOptions& options, QString* error,
                             const std::function<FigureProvenance(const PlotView&, const QString&)>& provenanceFor) {
    QStringList written;
    QDir dir(directory);
    for (PlotView* view : views) {
        if (!view->hasData()) continue;
        for (FigureFormat f : formats) {
            const QString path = dir.filePath(view->kind() + QLatin1Char('.') + figureFormatSuffix(f));
            QString e;
            ExportOptions fileOptions = options;
            if (provenanceFor) fileOptions.provenance = provenanceFor(*view, path);
            if (!exportFigure(*view, path, fileOptions, &e)) {
                if (error) *error = e;
                continue;
            }
            written << path;
        }
    }
    return written;
}

}  // namespace superlens::widgets
