#pragma once
// Figure export options: a venue style (widgets/figure_presets.h) at one or
// two columns, or a custom size; font family and size, PNG resolution, CSV
// alongside. The last choice persists in QSettings ("export/...").

#include <QDialog>

#include "figure_export.h"

class QComboBox;
class QDoubleSpinBox;
class QFontComboBox;
class QSpinBox;
class QCheckBox;

namespace superlens::gui {

class ExportDialog : public QDialog {
    Q_OBJECT
public:
    explicit ExportDialog(QWidget* parent = nullptr);
    widgets::ExportOptions options() const;
    void setOptions(const widgets::ExportOptions& options);

    static widgets::ExportOptions savedOptions();
    static void saveOptions(const widgets::ExportOptions& options);

private:
    void applyPreset(int index);

    QComboBox* m_style = nullptr;
    QComboBox* m_preset = nullptr;
    QDoubleSpinBox* m_width = nullptr;
    QDoubleSpinBox* m_height = nullptr;
    QFontComboBox* m_font = nullptr;
    QDoubleSpinBox* m_fontSize = nullptr;
    QSpinBox* m_dpi = nullptr;
    QCheckBox* m_csv = nullptr;
};

}  // namespace superlens::gui
