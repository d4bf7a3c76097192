#pragma once
// The Prompt dock: a set of prompts to switch between (the bundled default
// prompts plus the user's), an editor, the tokenization as chips (token
// text and id), and Run / Scan. Models without a tokenizer take token ids.

#include <vector>

#include <QWidget>

#include "superlens/core/engine/engine.h"

class QComboBox;
class QLabel;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QCheckBox;

namespace superlens::gui {

class LensSession;

class PromptPanel : public QWidget {
    Q_OBJECT
public:
    explicit PromptPanel(LensSession* session, QWidget* parent = nullptr);

    QString text() const;
    void setText(const QString& text);
    // Type token ids instead of text (forced for models without a tokenizer).
    void setIdsMode(bool ids);
    bool idsMode() const;
    QStringList prompts() const;
    void setPrompts(const QStringList& prompts, int current = 0);
    int currentPromptIndex() const;
    // Re-tokenizes after a model change.
    void modelChanged();
    QListWidget* chips() const { return m_chips; }

signals:
    void runRequested(const std::vector<superlens::core::TokenId>& tokens, bool scan);

public slots:
    void requestRun(bool scan = false);

private:
    void retokenize();

    LensSession* m_session;
    QComboBox* m_promptBox = nullptr;
    QPlainTextEdit* m_editor = nullptr;
    QCheckBox* m_idsBox = nullptr;
    QListWidget* m_chips = nullptr;
    QLabel* m_tokenInfo = nullptr;
    QPushButton* m_runButton = nullptr;
    QPushButton* m_scanButton = nullptr;
    std::vector<core::TokenId> m_tokens;
};

}  // namespace superlens::gui
