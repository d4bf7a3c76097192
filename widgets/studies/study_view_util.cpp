#include "study_view_util.h"

#include <QCoreApplication>

namespace superlens::widgets {

QString studyMetricLabel(const QString& metric) {
    if (metric == QLatin1String("ppl")) return QCoreApplication::translate("StudyViews", "perplexity");
    if (metric == QLatin1String("nll")) return QCoreApplication::translate("StudyViews", "NLL per token");
    if (metric == QLatin1String("accuracy")) return QCoreApplication::translate("StudyViews", "zero-shot accuracy");
    if (metric == QLatin1String("accuracy_norm")) return QCoreApplication::translate("StudyViews", "zero-shot accuracy (length-norm.)");
    if (metric == QLatin1String("answer_loss")) return QCoreApplication::translate("StudyViews", "answer loss (NLL)");
    if (metric == QLatin1String("answer_exact_match")) return QCoreApplication::translate("StudyViews", "answer exact match");
    if (metric == QLatin1String("mlm_accuracy")) return QCoreApplication::translate("StudyViews", "masked-token accuracy");
    if (metric == QLatin1String("mlm_loss")) return QCoreApplication::translate("StudyViews", "masked-token loss (NLL)");
    return metric;
}

QString quantSeriesLabel(const QString& series) {
    if (series == QLatin1String("rtn")) return QCoreApplication::translate("StudyViews", "RTN");
    if (series == QLatin1String("rtn_keep_super")) return QCoreApplication::translate("StudyViews", "RTN, super weights kept");
    if (series == QLatin1String("actq")) return QCoreApplication::translate("StudyViews", "activation RTN");
    if (series == QLatin1String("actq_keep_super")) return QCoreApplication::translate("StudyViews", "activation RTN, super act. kept");
    return series;
}

SnapshotPtr studyPlaceholderSnapshot() {
    static const SnapshotPtr s_empty = std::make_shared<const ViewSnapshot>();
    return s_empty;
}

}  // namespace superlens::widgets
