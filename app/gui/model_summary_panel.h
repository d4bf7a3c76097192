#pragma once
// The Model dock: architecture, sizes, dtype, parameters, tokenizer, and the
// published super-weight coordinates when the model is recognised.

#include <QTextBrowser>

namespace superlens::gui {

struct LoadedModel;

class ModelSummaryPanel : public QTextBrowser {
    Q_OBJECT
public:
    explicit ModelSummaryPanel(QWidget* parent = nullptr);
    void showModel(const LoadedModel* model, int detectedSuperWeights = -1);
};

}  // namespace superlens::gui
