#pragma once
// Style presets for common publication targets: the figure width at one and
// two columns, the height, the font size and the font family a venue's
// template uses. docs/FIGURES.md lists every preset with its numbers.
//
// "one" is the narrow figure: a column of a two-column venue, half the text
// width of a single-column one (NeurIPS, ICLR, arXiv); "two" is the full text
// width. Fonts are the first installed family of the preset's list: the
// Times, Helvetica/Arial or Computer Modern face scripts/setup.sh installs
// (Liberation Serif, Liberation Sans, CMU Serif), then other clones, DejaVu
// last. The layout pass measures whatever font is used; PDFs embed it, SVGs
// name it, PNGs are drawn with it.

#include <QList>
#include <QString>
#include <QStringList>

namespace superlens::widgets {

struct ExportOptions;

struct FigurePreset {
    QString id;           // --style value: "neurips", "nature", ...
    QString name;         // shown in Export options: "NeurIPS"
    double oneInches = 3.5;
    double twoInches = 7.0;
    double oneHeightInches = 2.6;
    double twoHeightInches = 3.2;
    double fontPoints = 8.0;     // tick labels, legends and annotations are drawn at 85-90 % of it
    QStringList fontFamilies;    // preferred first (the one scripts/setup.sh installs), DejaVu last
    QString source;              // what the numbers follow
};

// Every preset, "default" first.
const QList<FigurePreset>& figurePresets();
QStringList figurePresetIds();
// nullptr for an unknown id.
const FigurePreset* findFigurePreset(const QString& id);

// The first of the families that is installed (needs a QGuiApplication);
// the last one when none is.
QString resolveFontFamily(const QStringList& families);

// Export options for a preset at one or two columns (font resolved).
ExportOptions presetExportOptions(const FigurePreset& preset, bool twoColumns);

}  // namespace superlens::widgets
