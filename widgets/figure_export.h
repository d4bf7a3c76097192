#pragma once
// Paper figures from any view: PDF and SVG (vector) and PNG (chosen DPI) at
// one-column (3.5 in) or two-column (7 in) width or a venue preset
// (figure_presets.h), in a light theme with a colour-blind-safe palette and
// the chosen font, plus the data behind the figure as CSV alongside. Every
// export runs the layout pass of figure_layout.h at the figure's size, so no
// text is clipped or printed on other text and legends cover no data.
//
// SVG goes through QSvgGenerator + QCPPainter (QCustomPlot 2.1 has no
// saveSvg). Qt 6.4's SVG output has no clipping, so views keep their
// plottables inside the axis rect (ranges cover the data, bars on log axes
// start at the axis' lower bound).

#include <functional>

#include <QList>
#include <QString>
#include <QStringList>

#include "figure_layout.h"
#include "plot_style.h"

namespace superlens::widgets {

class PlotView;

enum class FigureFormat { Pdf, Svg, Png };

// Where a figure came from, embedded in every export: PDF XMP metadata, SVG
// <metadata>, PNG text chunks, and "# key: value" lines heading the CSV. The
// whole record also travels as one JSON document (base64 between the
// markers below) that readFigureProvenance() finds again in any of the three
// formats; `superlens-cli figure --from FILE` re-runs its command.
struct FigureProvenance {
    QString version;      // SuperLens version
    QString modelPath;
    QString modelFingerprint;
    QString prompt;       // the prompt text ("" when the input was token ids)
    QString ids;          // the token ids, comma separated
    QString image;        // vision models: the image or .npy file (absolute); "" for text
    QStringList edits;
    QString command;      // the superlens-cli figure command that regenerates the file
    bool isEmpty() const { return command.isEmpty() && modelPath.isEmpty(); }
    // (key, value) in a fixed order, for CSV headers and PNG text chunks.
    QList<QPair<QString, QString>> fields() const;
    QByteArray toJson() const;
    static bool fromJson(const QByteArray& json, FigureProvenance* out);
};
inline constexpr const char* kProvenanceBegin = "SUPERLENS-PROVENANCE-BEGIN:";
inline constexpr const char* kProvenanceEnd = ":SUPERLENS-PROVENANCE-END";

// Reads the provenance embedded in an exported PDF, SVG or PNG; false with
// *error naming the file and the problem (unreadable, no provenance).
bool readFigureProvenance(const QString& path, FigureProvenance* out, QString* error = nullptr);

// Quotes one argument for a POSIX shell (only when needed).
QString shellQuote(const QString& argument);
// Splits a command line written by figureCommandLine() (words, '...' quotes,
// \ escapes) into its arguments; false when a quote is left open.
bool splitShellWords(const QString& line, QStringList* words);

struct ExportOptions {
    double widthInches = 3.5;   // 3.5 one column, 7.0 two columns
    double heightInches = 2.6;
    QString fontFamily = QStringLiteral("DejaVu Sans");
    double fontPoints = 8.0;
    int dpi = 300;              // PNG only
    bool writeCsv = true;       // FILE.csv next to FILE.pdf/svg/png
    QString style = QStringLiteral("default");  // the preset these options came from (figure_presets.h)
    bool fitLayout = true;      // false: skip the layout pass (tests measure what it fixes)
    FigureProvenance provenance;  // embedded in the file and the CSV header when not empty

    static ExportOptions oneColumn();
    static ExportOptions twoColumn();
    // Width and height in points (1/72 in): the logical size figures are laid out at.
    int widthPoints() const;
    int heightPoints() const;
};

// From the file suffix (.pdf, .svg, .png); false for anything else.
bool figureFormatFromPath(const QString& path, FigureFormat* format);
QString figureFormatSuffix(FigureFormat format);
// FILE.pdf -> FILE.csv
QString csvPathFor(const QString& figurePath);

// What an export did to fit the figure (figure_layout.h) and its caption:
// the view's full title text, which the figure may show wrapped or shortened.
struct ExportReport {
    FigureLayoutReport layout;
    QString caption;
};

// The superlens-cli figure command that draws this figure again (every
// option that changes the output spelled out: layer, style, size, font, dpi).
struct FigureCommand {
    QStringList kinds;
    QString study;       // study views (laser, quant): the study JSON, absolute; no model or prompt then
    QString model;       // folder or GGUF file, absolute
    QString prompt;      // one of prompt / ids
    QString ids;
    QString image;       // vision models: a PNG/JPEG (--image) or .npy (--pixels), absolute; replaces prompt / ids
    QStringList edits;
    QStringList baselineEdits;  // the "original" run's edits (a comparison of two runs)
    QString compareWith; // model B (File → Compare with model…), absolute: --compare-with
    bool overlayB = false;  // B's run is the second side: --overlay-b
    QString imatrix;     // llama.cpp's importance matrix, absolute: --imatrix
    int layer = -1;      // -1: none given
    QString compute;     // --compute bf16|fp16 of the run (empty: the exact fp32 engine)
    // The view's own state (PlotView::figureState): --position, --head, --pattern, --carriers.
    QList<QPair<QString, QString>> viewState;
    ExportOptions options;
    QString out;         // absolute
};
QString figureCommandLine(const FigureCommand& command);

// Renders the view with the export style and writes the file (and the CSV).
// The view's on-screen style is restored afterwards. False with *error set.
// The full caption goes into the file's metadata (PDF title, SVG
// description, PNG text chunk) and into *report.
bool exportFigure(PlotView& view, const QString& path, const ExportOptions& options, QString* error = nullptr,
                  ExportReport* report = nullptr);

// Holds a view in its export style, laid out at the figure's size, for as
// long as it lives (exportFigure uses it; tests inspect the layout through it).
class FigureExportScope {
public:
    // beforeLayout runs on the plot in export style, before the layout pass.
    FigureExportScope(PlotView& view, const ExportOptions& options, const std::function<void(QCustomPlot*)>& beforeLayout = {});
    ~FigureExportScope();
    FigureExportScope(const FigureExportScope&) = delete;
    FigureExportScope& operator=(const FigureExportScope&) = delete;

    const FigureLayoutReport& layout() const { return m_layout; }
    int widthPoints() const { return m_w; }
    int heightPoints() const { return m_h; }

private:
    PlotView& m_view;
    PlotStyle m_saved;
    FigureLayoutReport m_layout;
    int m_w, m_h;
};

// Several views in one figure: panels in a grid (one column below 5 in of
// width, else two; a last row with fewer panels shares the full width), each
// options.heightInches high and laid out by the layout pass at its own size,
// with a bold panel letter (a, b, c, ...) above its top-left corner. Legend
// entries that several panels draw identically (same name, line, marker and
// fill) are shown once, in a row above the panels. Writes the figure and
// FILE_a.csv, FILE_b.csv, ... (one per panel, when options.writeCsv).
struct PanelReport {
    QString letter;
    QString kind;
    QString csv;
    FigureLayoutReport layout;
};
struct MultiPanelReport {
    QList<PanelReport> panels;
    QStringList sharedLegend;  // entries moved to the shared legend row
    QString caption;
    double heightInches = 0;   // of the whole figure
};
bool exportMultiPanelFigure(const QList<PlotView*>& views, const QString& path, const ExportOptions& options, QString* error = nullptr,
                            MultiPanelReport* report = nullptr);

// Writes <dir>/<kind>.<suffix> for every view and format; returns the files written.
// provenanceFor (optional) gives each file's provenance (view, path).
QStringList exportAllFigures(const QList<PlotView*>& views, const QString& directory, const QList<FigureFormat>& formats,
                             const ExportOptions& options, QString* error = nullptr,
                             const std::function<FigureProvenance(const PlotView&, const QString&)>& provenanceFor = {});

}  // namespace superlens::widgets
