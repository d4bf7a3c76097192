#include "figure_presets.h"

#include <QFontDatabase>

#include "figure_export.h"

namespace superlens::widgets {
namespace {

// Font families by kind: the face scripts/setup.sh installs first (so every
// machine set up by it draws the same glyphs), then other clones a system may
// have, then DejaVu (always installed) as the last resort.
//   Times:           Liberation Serif (fonts-liberation2: Times New Roman's
//                    metrics, the Times of Word templates), TeX Gyre Termes and
//                    Nimbus Roman (URW's Times, which LaTeX's `times` uses),
//                    Times New Roman, Times
//   Helvetica/Arial: Liberation Sans (fonts-liberation2: Arial's metrics, which
//                    Nature and Science name), TeX Gyre Heros, Nimbus Sans,
//                    Helvetica, Arial
//   Computer Modern: CMU Serif (fonts-cmu: Computer Modern Unicode), Latin Modern Roman
// Liberation before TeX Gyre: TeX Gyre's hinted line height at 6-8 units is
// 1.5 em (Liberation's 1.1 em), which crowds the shortest figures.
const QStringList kSerif = {QStringLiteral("Liberation Serif"), QStringLiteral("TeX Gyre Termes"), QStringLiteral("Nimbus Roman"),
                            QStringLiteral("Times New Roman"), QStringLiteral("Times"), QStringLiteral("DejaVu Serif")};
const QStringList kSans = {QStringLiteral("Liberation Sans"), QStringLiteral("TeX Gyre Heros"), QStringLiteral("Nimbus Sans"),
                           QStringLiteral("Helvetica"), QStringLiteral("Arial"), QStringLiteral("DejaVu Sans")};
const QStringList kModern = {QStringLiteral("CMU Serif"), QStringLiteral("Latin Modern Roman"), QStringLiteral("DejaVu Serif")};

QList<FigurePreset> makePresets() {
    auto p = [](QString id, QString name, double one, double two, double h1, double h2, double pt, QStringList fonts, QString source) {
        FigurePreset f;
        f.id = std::move(id);
        f.name = std::move(name);
        f.oneInches = one;
        f.twoInches = two;
        f.oneHeightInches = h1;
        f.twoHeightInches = h2;
        f.fontPoints = pt;
        f.fontFamilies = std::move(fonts);
        f.source = std::move(source);
        return f;
    };
    return {
        p(QStringLiteral("default"), QStringLiteral("SuperLens default"), 3.5, 7.0, 2.6, 3.2, 8.0, {QStringLiteral("DejaVu Sans")},
          QStringLiteral("3.5 in and 7 in, the common column and page widths")),
        p(QStringLiteral("neurips"), QStringLiteral("NeurIPS"), 2.75, 5.5, 2.2, 2.8, 8.0, kSerif,
          QStringLiteral("neurips.sty: single column, text width 5.5 in, Times 10 pt")),
        p(QStringLiteral("icml"), QStringLiteral("ICML"), 3.25, 6.75, 2.5, 3.0, 8.0, kSerif,
          QStringLiteral("icml.sty: two columns of 3.25 in, text width 6.75 in, Times 10 pt")),
        p(QStringLiteral("iclr"), QStringLiteral("ICLR"), 2.75, 5.5, 2.2, 2.8, 8.0, kSerif,
          QStringLiteral("iclr conference.sty: single column, text width 5.5 in, Times 10 pt")),
        p(QStringLiteral("acl"), QStringLiteral("ACL"), 3.03, 6.3, 2.4, 3.0, 8.0, kSerif,
          QStringLiteral("acl.sty: two columns of 7.7 cm, text width 16 cm, Times 11 pt")),
        p(QStringLiteral("nature"), QStringLiteral("Nature"), 3.50, 7.20, 2.6, 3.2, 7.0, kSans,
          QStringLiteral("Nature figure guide: 89 mm single, 183 mm double column, sans-serif 5-7 pt")),
        p(QStringLiteral("science"), QStringLiteral("Science"), 2.24, 4.76, 2.0, 2.8, 7.0, kSans,
          QStringLiteral("Science figure guide: 5.7 cm one column, 12.1 cm two columns, Helvetica")),
        p(QStringLiteral("ieee"), QStringLiteral("IEEE"), 3.5, 7.16, 2.6, 3.2, 8.0, kSerif,
          QStringLiteral("IEEEtran: two columns of 3.5 in, text width 7.16 in, Times 8-10 pt in figures")),
        p(QStringLiteral("arxiv"), QStringLiteral("arXiv single column"), 3.25, 6.5, 2.5, 3.2, 9.0, kModern,
          QStringLiteral("article class with 1 in margins on letter paper: text width 6.5 in, Computer Modern 10 pt")),
    };
}

}  // namespace

const QList<FigurePreset>& figurePresets() {
    static const QList<FigurePreset> presets = makePresets();
    return presets;
}

QStringList figurePresetIds() {
    QStringList ids;
    for (const FigurePreset& p : figurePresets()) ids << p.id;
    return ids;
}

const FigurePreset* findFigurePreset(const QString& id) {
    for (const FigurePreset& p : figurePresets()) {
        if (p.id == id) return &p;
    }
    return nullptr;
}

QString resolveFontFamily(const QStringList& families) {
    if (families.isEmpty()) return QStringLiteral("DejaVu Sans");
    const QStringList installed = QFontDatabase::families();
    for (const QString& f : families) {
        if (installed.contains(f, Qt::CaseInsensitive)) return f;
    }
    return families.last();
}

ExportOptions presetExportOptions(const FigurePreset& preset, bool twoColumns) {
    if (preset.id == QLatin1String("default")) return twoColumns ? ExportOptions::twoColumn() : ExportOptions::oneColumn();
    ExportOptions o;
    o.style = preset.id;
    o.widthInches = twoColumns ? preset.twoInches : preset.oneInches;
    o.heightInches = twoColumns ? preset.twoHeightInches : preset.oneHeightInches;
    o.fontPoints = preset.fontPoints;
    o.fontFamily = resolveFontFamily(preset.fontFamilies);
    return o;
}

}  // namespace superlens::widgets
