#pragma once
// The Prompt dock: a set of prompts to switch between (the bundled default
// prompts plus the user's), an editor, the tokenization as chips (token
// text and id), and Run / Scan. Models without a tokenizer take token ids.
// Vision models take an image instead: the text editor gives way to an
// "Open image…" button, the file's name and a thumbnail of the pixels the
// model read (drawn from the view snapshot: core preprocesses the file).

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
    // Vision models: the image file the next run reads (PNG, JPEG or .npy).
    void setImage(const QString& file);
    const QString& image() const { return m_image; }
    // The thumbnail: display bytes of the last run (ViewSnapshot::image), height x width x 3.
    void setThumbnail(const std::vector<std::uint8_t>& rgb, int width, int height);
    QLabel* thumbnail() const { return m_thumbnail; }

signals:
    void runRequested(const std::vector<superlens::core::TokenId>& tokens, bool scan);
    // Vision models: run this image file.
    void imageRunRequested(const QString& file, bool scan);
    // "Open image…" was pressed.
    void openImageRequested();
    // A run that cannot start (a vision model without an image), as one line.
    void problem(const QString& message);

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
    QWidget* m_textWidgets = nullptr;   // prompt set, editor, ids box, chips
    QWidget* m_imageWidgets = nullptr;  // Open image…, file name, thumbnail
    QLabel* m_imageName = nullptr;
    QLabel* m_thumbnail = nullptr;
    QString m_image;
};

}  // namespace superlens::gui
