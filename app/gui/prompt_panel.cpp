#include "prompt_panel.h"

#include <QCheckBox>
#include <QFileInfo>
#include <QImage>
#include <QPixmap>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include "superlens/core/view/build_view_snapshot.h"
#include "lens_session.h"

namespace superlens::gui {

PromptPanel::PromptPanel(LensSession* session, QWidget* parent) : QWidget(parent), m_session(session) {
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    // Vision models: an image instead of the text (shown by modelChanged).
    m_imageWidgets = new QWidget(this);
    auto* imageLayout = new QVBoxLayout(m_imageWidgets);
    imageLayout->setContentsMargins(6, 6, 6, 6);
    auto* openImage = new QPushButton(tr("Open image…"), m_imageWidgets);
    openImage->setToolTip(tr("A PNG or JPEG (preprocessed as the model's preprocessor_config.json says) or a .npy pixel_values tensor; "
                             "you can also drop the file on the window"));
    m_imageName = new QLabel(tr("No image: open one or drop a PNG, JPEG or .npy file on the window."), m_imageWidgets);
    m_imageName->setWordWrap(true);
    m_thumbnail = new QLabel(m_imageWidgets);
    m_thumbnail->setAlignment(Qt::AlignCenter);
    m_thumbnail->setMinimumHeight(96);
    m_thumbnail->setToolTip(tr("The pixels the model read (after resize, crop and normalisation; each channel scaled to its range)"));
    auto* imageButtons = new QHBoxLayout;
    imageButtons->addWidget(openImage);
    imageButtons->addStretch(1);
    auto* imageRun = new QPushButton(tr("Run"), m_imageWidgets);
    imageRun->setToolTip(tr("Forward pass of the image; every view updates (Ctrl+R)"));
    auto* imageScan = new QPushButton(tr("Scan"), m_imageWidgets);
    imageScan->setToolTip(tr("Forward pass plus the super-weight scan (Ctrl+Shift+R)"));
    imageButtons->addWidget(imageRun);
    imageButtons->addWidget(imageScan);
    imageLayout->addLayout(imageButtons);
    imageLayout->addWidget(m_imageName);
    imageLayout->addWidget(m_thumbnail, 1);
    m_imageWidgets->hide();
    connect(openImage, &QPushButton::clicked, this, &PromptPanel::openImageRequested);
    connect(imageRun, &QPushButton::clicked, this, [this] { requestRun(false); });
    connect(imageScan, &QPushButton::clicked, this, [this] { requestRun(true); });
    m_textWidgets = new QWidget(this);
    outer->addWidget(m_imageWidgets, 1);
    outer->addWidget(m_textWidgets, 1);
    auto* layout = new QVBoxLayout(m_textWidgets);
    layout->setContentsMargins(6, 6, 6, 6);
    m_promptBox = new QComboBox(this);
    m_promptBox->setEditable(false);
    m_promptBox->setToolTip(tr("Prompt set: pick a prompt to edit and run"));
    m_promptBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_promptBox->setMinimumContentsLength(16);
    layout->addWidget(m_promptBox);
    m_editor = new QPlainTextEdit(this);
    m_editor->setPlaceholderText(tr("Type a prompt (or token ids) and press Run (Ctrl+R)"));
    m_editor->setMaximumHeight(80);
    layout->addWidget(m_editor);
    auto* row = new QHBoxLayout;
    m_idsBox = new QCheckBox(tr("token ids"), this);
    m_idsBox->setToolTip(tr("Interpret the text as comma-separated token ids (used exactly as given, no BOS added)"));
    m_runButton = new QPushButton(tr("Run"), this);
    m_runButton->setToolTip(tr("Forward pass of the prompt; every view updates (Ctrl+R)"));
    m_scanButton = new QPushButton(tr("Scan"), this);
    m_scanButton->setToolTip(tr("Forward pass plus the super-weight scan (Ctrl+Shift+R)"));
    auto* addButton = new QPushButton(tr("+"), this);
    addButton->setToolTip(tr("Keep the edited text as a new prompt in the set"));
    addButton->setMaximumWidth(28);
    row->addWidget(m_idsBox);
    row->addStretch(1);
    row->addWidget(addButton);
    row->addWidget(m_runButton);
    row->addWidget(m_scanButton);
    layout->addLayout(row);
    m_tokenInfo = new QLabel(this);
    m_tokenInfo->setWordWrap(true);
    m_tokenInfo->setStyleSheet(QStringLiteral("color: #555;"));
    layout->addWidget(m_tokenInfo);
    m_chips = new QListWidget(this);
    m_chips->setViewMode(QListView::IconMode);
    m_chips->setFlow(QListView::LeftToRight);
    m_chips->setWrapping(true);
    m_chips->setResizeMode(QListView::Adjust);
    m_chips->setMovement(QListView::Static);
    m_chips->setSpacing(3);
    m_chips->setUniformItemSizes(false);
    m_chips->setSelectionMode(QAbstractItemView::NoSelection);
    m_chips->setStyleSheet(QStringLiteral("QListWidget { background: #fafafa; } QListWidget::item { border: 1px solid #b8c7d9; border-radius: 4px; background: #eaf1fb; padding: 2px; }"));
    m_chips->setToolTip(tr("The tokenization: token text over token id, position in the tooltip"));
    layout->addWidget(m_chips, 1);

    connect(m_promptBox, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_editor->setPlainText(m_promptBox->itemText(i));
    });
    connect(m_editor, &QPlainTextEdit::textChanged, this, &PromptPanel::retokenize);
    connect(m_idsBox, &QCheckBox::toggled, this, &PromptPanel::retokenize);
    connect(m_runButton, &QPushButton::clicked, this, [this] { requestRun(false); });
    connect(m_scanButton, &QPushButton::clicked, this, [this] { requestRun(true); });
    connect(addButton, &QPushButton::clicked, this, [this] {
        const QString t = m_editor->toPlainText().trimmed();
        if (t.isEmpty() || m_promptBox->findText(t) >= 0) return;
        QSignalBlocker block(m_promptBox);
        m_promptBox->addItem(t);
        m_promptBox->setCurrentIndex(m_promptBox->count() - 1);
    });
}

QString PromptPanel::text() const { return m_editor->toPlainText(); }
void PromptPanel::setText(const QString& text) { m_editor->setPlainText(text); }
void PromptPanel::setIdsMode(bool ids) { m_idsBox->setChecked(ids); }
bool PromptPanel::idsMode() const { return m_idsBox->isChecked(); }

QStringList PromptPanel::prompts() const {
    QStringList out;
    for (int i = 0; i < m_promptBox->count(); ++i) out << m_promptBox->itemText(i);
    return out;
}

int PromptPanel::currentPromptIndex() const { return m_promptBox->currentIndex(); }

void PromptPanel::setPrompts(const QStringList& prompts, int current) {
    QSignalBlocker block(m_promptBox);
    m_promptBox->clear();
    m_promptBox->addItems(prompts);
    if (!prompts.isEmpty()) {
        m_promptBox->setCurrentIndex(std::clamp(current, 0, static_cast<int>(prompts.size()) - 1));
        m_editor->setPlainText(m_promptBox->currentText());
    }
}

void PromptPanel::setImage(const QString& file) {
    m_image = file;
    m_imageName->setText(file.isEmpty() ? tr("No image: open one or drop a PNG, JPEG or .npy file on the window.") : QFileInfo(file).fileName());
    m_imageName->setToolTip(file);
    m_thumbnail->clear();
}

void PromptPanel::setThumbnail(const std::vector<std::uint8_t>& rgb, int width, int height) {
    if (width <= 0 || height <= 0 || rgb.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3) {
        m_thumbnail->clear();
        return;
    }
    QImage image(rgb.data(), width, height, width * 3, QImage::Format_RGB888);
    // Display only: scaled up with visible pixels (test images are a few pixels wide).
    const int side = 160;
    m_thumbnail->setPixmap(QPixmap::fromImage(image.copy()).scaled(side, side, Qt::KeepAspectRatio, Qt::FastTransformation));
}

void PromptPanel::modelChanged() {
    const LoadedModel* m = m_session->model();
    const bool vision = m_session->isVisionModel();
    m_imageWidgets->setVisible(vision);
    m_textWidgets->setVisible(!vision);
    if (vision) {
        m_tokenInfo->clear();
        return;
    }
    const bool hasTokenizer = m && m->tokenizer;
    m_idsBox->setEnabled(hasTokenizer);
    if (m && !hasTokenizer) {
        m_idsBox->setChecked(true);
        // A model without a tokenizer takes ids: offer BOS (1) and a few ids to start with.
        if (!m_session->tokensFor(m_editor->toPlainText(), true)) m_editor->setPlainText(QStringLiteral("1, 10, 20, 30, 40, 50, 60, 70"));
    } else if (m && hasTokenizer && m_idsBox->isChecked() && !m_session->tokensFor(m_editor->toPlainText(), true)) {
        m_idsBox->setChecked(false);
    }
    retokenize();
}

void PromptPanel::retokenize() {
    m_chips->clear();
    m_tokens.clear();
    const LoadedModel* m = m_session->model();
    if (!m) {
        m_tokenInfo->setText(tr("No model open."));
        return;
    }
    auto ids = m_session->tokensFor(m_editor->toPlainText(), m_idsBox->isChecked());
    if (!ids) {
        m_tokenInfo->setText(QString::fromStdString(ids.error().message));
        m_runButton->setEnabled(false);
        m_scanButton->setEnabled(false);
        return;
    }
    m_tokens = *ids;
    m_runButton->setEnabled(true);
    m_scanButton->setEnabled(true);
    m_tokenInfo->setText(tr("%n token(s)", nullptr, static_cast<int>(m_tokens.size())));
    // Chips: one item per token; a few hundred at most stay cheap.
    const int shown = std::min<int>(static_cast<int>(m_tokens.size()), 512);
    for (int i = 0; i < shown; ++i) {
        const core::TokenId id = m_tokens[static_cast<std::size_t>(i)];
        QString label = QString::fromStdString(core::view::tokenLabel(m->tokenizer.get(), id));
        auto* item = new QListWidgetItem(QStringLiteral("%1\n%2").arg(label).arg(id), m_chips);
        item->setTextAlignment(Qt::AlignCenter);
        item->setToolTip(tr("position %1, id %2%3")
                             .arg(i)
                             .arg(id)
                             .arg(m->tokenizer ? tr(", piece %1").arg(QString::fromStdString(m->tokenizer->tokenString(id))) : QString()));
    }
}

void PromptPanel::requestRun(bool scan) {
    if (m_session->isVisionModel()) {
        if (m_image.isEmpty()) emit problem(QString::fromUtf8(kTextToVisionModel));
        else emit imageRunRequested(m_image, scan);
        return;
    }
    if (m_tokens.empty()) retokenize();
    if (m_tokens.empty()) return;
    emit runRequested(m_tokens, scan);
}

}  // namespace superlens::gui
