#include "model_summary_panel.h"

#include "lens_session.h"
#include "superlens/core/model/dtype.h"

namespace superlens::gui {

ModelSummaryPanel::ModelSummaryPanel(QWidget* parent) : QTextBrowser(parent) {
    setOpenLinks(false);
    setMinimumHeight(120);
    showModel(nullptr);
}

namespace {

QString humanCount(double n) {
    if (n >= 1e9) return QString::number(n / 1e9, 'f', 2) + QStringLiteral(" B");
    if (n >= 1e6) return QString::number(n / 1e6, 'f', 1) + QStringLiteral(" M");
    if (n >= 1e3) return QString::number(n / 1e3, 'f', 1) + QStringLiteral(" K");
    return QString::number(n);
}

}  // namespace

void ModelSummaryPanel::showModel(const LoadedModel* m, int detected) {
    if (!m) {
        setHtml(tr("<p style='color:#666'>No model open.<br>File → Open model…, drop a model folder here, or start with <tt>--model DIR</tt>.</p>"));
        return;
    }
    const auto& c = m->model->config();
    QString html = QStringLiteral("<b>%1</b><br><span style='color:#666'>%2</span><table cellspacing='2'>").arg(m->displayName.toHtmlEscaped(), m->folder.toHtmlEscaped());
    auto row = [&](const QString& k, const QString& v) { html += QStringLiteral("<tr><td style='color:#555'>%1</td><td>%2</td></tr>").arg(k, v); };
    row(tr("architecture"), QStringLiteral("%1 (%2)").arg(QString::fromStdString(c.modelType), QString::fromStdString(c.familyName)));
    row(tr("block"), QString::fromStdString(c.blockSummary()).toHtmlEscaped());
    row(tr("down projection"), QString::fromStdString(m->model->downProjectionName(0)).toHtmlEscaped() +
                                   (m->model->downOutputAxis() == 1 ? tr(" (stored [in, out])") : QString()));
    row(tr("layers"), QString::number(c.numLayers));
    row(tr("hidden / MLP"), QStringLiteral("%1 / %2").arg(c.hiddenSize).arg(c.intermediateSize));
    row(tr("heads (KV)"), QStringLiteral("%1 (%2)").arg(c.numHeads).arg(c.numKvHeads));
    row(tr("vocabulary"), QString::number(c.vocabSize));
    row(tr("parameters"), humanCount(static_cast<double>(m->model->parameterCount())));
    row(tr("dtype"), QString::fromStdString(std::string(core::dtypeName(m->model->dominantDtype()))));
    row(tr("tokenizer"), m->tokenizer ? QString::fromStdString(m->tokenizer->sourceFile().filename().string()) : tr("none (type token ids)"));
    if (detected >= 0) row(tr("detected SWs"), QString::number(detected));
    html += QStringLiteral("</table>");
    if (m->published && m->published->model) {
        const auto& p = *m->published->model;
        html += tr("<p><b>Recognised:</b> %1 (by %2)<br>published super weights:").arg(QString::fromStdString(p.name).toHtmlEscaped(),
                                                                                        QString::fromStdString(m->published->matchedBy));
        for (const auto& sw : p.superWeights) html += QStringLiteral("<br>&nbsp;L%1 [%2, %3]").arg(sw.layer).arg(sw.row).arg(sw.col);
        if (!p.massiveChannels.empty()) {
            QStringList ch;
            for (auto c2 : p.massiveChannels) ch << QString::number(c2);
            html += tr("<br>massive-activation channels: %1").arg(ch.join(QStringLiteral(", ")));
        }
        html += QStringLiteral("</p>");
    }
    setHtml(html);
}

}  // namespace superlens::gui
