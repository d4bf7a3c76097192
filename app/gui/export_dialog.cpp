#include "export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFontComboBox>
#include <QFormLayout>
#include <QSettings>
#include <QSpinBox>

#include "figure_presets.h"

namespace superlens::gui {

ExportDialog::ExportDialog(QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Figure export options"));
    auto* form = new QFormLayout(this);
    m_style = new QComboBox(this);
    for (const widgets::FigurePreset& p : widgets::figurePresets()) m_style->addItem(p.name, p.id);
    m_style->setToolTip(tr("Widths, height and fonts of a venue (docs/FIGURES.md)"));
    m_preset = new QComboBox(this);
    m_preset->addItems({tr("One column"), tr("Two columns (full width)"), tr("Custom")});
    m_width = new QDoubleSpinBox(this);
    m_width->setRange(1.0, 20.0);
    m_width->setSuffix(tr(" in"));
    m_width->setSingleStep(0.25);
    m_height = new QDoubleSpinBox(this);
    m_height->setRange(1.0, 20.0);
    m_height->setSuffix(tr(" in"));
    m_height->setSingleStep(0.25);
    m_font = new QFontComboBox(this);
    m_fontSize = new QDoubleSpinBox(this);
    m_fontSize->setRange(4, 24);
    m_fontSize->setSuffix(tr(" pt"));
    m_dpi = new QSpinBox(this);
    m_dpi->setRange(72, 1200);
    m_dpi->setSuffix(tr(" dpi"));
    m_csv = new QCheckBox(tr("write the data as CSV next to the figure"), this);
    form->addRow(tr("Style"), m_style);
    form->addRow(tr("Width preset"), m_preset);
    form->addRow(tr("Width"), m_width);
    form->addRow(tr("Height"), m_height);
    form->addRow(tr("Font"), m_font);
    form->addRow(tr("Font size"), m_fontSize);
    form->addRow(tr("PNG resolution"), m_dpi);
    form->addRow(QString(), m_csv);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_preset, &QComboBox::activated, this, &ExportDialog::applyPreset);
    connect(m_style, &QComboBox::activated, this, [this] { applyPreset(m_preset->currentIndex() == 1 ? 1 : 0); });
    setOptions(savedOptions());
}

void ExportDialog::applyPreset(int index) {
    const widgets::FigurePreset* preset = widgets::findFigurePreset(m_style->currentData().toString());
    if (!preset || index > 1) return;
    widgets::ExportOptions o = widgets::presetExportOptions(*preset, index == 1);
    o.dpi = m_dpi->value();
    o.writeCsv = m_csv->isChecked();
    setOptions(o);
}

widgets::ExportOptions ExportDialog::options() const {
    widgets::ExportOptions o;
    o.widthInches = m_width->value();
    o.heightInches = m_height->value();
    o.fontFamily = m_font->currentFont().family();
    o.fontPoints = m_fontSize->value();
    o.dpi = m_dpi->value();
    o.writeCsv = m_csv->isChecked();
    o.style = m_style->currentData().toString();
    return o;
}

void ExportDialog::setOptions(const widgets::ExportOptions& o) {
    m_width->setValue(o.widthInches);
    m_height->setValue(o.heightInches);
    m_font->setCurrentFont(QFont(o.fontFamily));
    m_fontSize->setValue(o.fontPoints);
    m_dpi->setValue(o.dpi);
    m_csv->setChecked(o.writeCsv);
    const int style = m_style->findData(o.style);
    m_style->setCurrentIndex(style >= 0 ? style : 0);
    const widgets::FigurePreset* preset = widgets::findFigurePreset(m_style->currentData().toString());
    m_preset->setCurrentIndex(preset && o.widthInches == preset->oneInches ? 0 : (preset && o.widthInches == preset->twoInches ? 1 : 2));
}

widgets::ExportOptions ExportDialog::savedOptions() {
    QSettings s;
    widgets::ExportOptions o;
    o.widthInches = s.value(QStringLiteral("export/widthInches"), o.widthInches).toDouble();
    o.heightInches = s.value(QStringLiteral("export/heightInches"), o.heightInches).toDouble();
    o.fontFamily = s.value(QStringLiteral("export/fontFamily"), o.fontFamily).toString();
    o.fontPoints = s.value(QStringLiteral("export/fontPoints"), o.fontPoints).toDouble();
    o.dpi = s.value(QStringLiteral("export/dpi"), o.dpi).toInt();
    o.writeCsv = s.value(QStringLiteral("export/writeCsv"), o.writeCsv).toBool();
    o.style = s.value(QStringLiteral("export/style"), o.style).toString();
    return o;
}

void ExportDialog::saveOptions(const widgets::ExportOptions& o) {
    QSettings s;
    s.setValue(QStringLiteral("export/widthInches"), o.widthInches);
    s.setValue(QStringLiteral("export/heightInches"), o.heightInches);
    s.setValue(QStringLiteral("export/fontFamily"), o.fontFamily);
    s.setValue(QStringLiteral("export/fontPoints"), o.fontPoints);
    s.setValue(QStringLiteral("export/dpi"), o.dpi);
    s.setValue(QStringLiteral("export/writeCsv"), o.writeCsv);
    s.setValue(QStringLiteral("export/style"), o.style);
}

}  // namespace superlens::gui
