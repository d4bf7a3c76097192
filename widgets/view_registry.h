#pragma once
// Views register themselves: a file views/<name>_view.cpp ends with
// SUPERLENS_REGISTER_VIEW(<name>_view, Class, "kind", order), and the build
// links every such file (widgets/CMakeLists.txt generates the anchors), so
// adding a view is adding one file.

#include <functional>
#include <vector>

#include <QString>
#include <QStringList>

class QWidget;

namespace superlens::widgets {

class PlotView;

struct ViewKind {
    QString kind;   // figure kind, as `superlens-cli figure KIND`
    int order = 0;  // tab order
    std::function<PlotView*(QWidget* parent)> create;
};

bool registerViewKind(ViewKind kind);
// Every registered view, in tab order.
const std::vector<ViewKind>& viewKinds();
QStringList viewKindNames();
// nullptr for an unknown kind.
PlotView* createView(const QString& kind, QWidget* parent = nullptr);

}  // namespace superlens::widgets

#define SUPERLENS_REGISTER_VIEW(FileId, Class, KindName, Order)                                                   \
    namespace {                                                                                                    \
    const bool kRegistered_##FileId = ::superlens::widgets::registerViewKind(                                       \
        {QStringLiteral(KindName), Order, [](QWidget* parent) -> ::superlens::widgets::PlotView* { return new Class(parent); }}); \
    }                                                                                                              \
    void superlensViewAnchor_##FileId() { (void)kRegistered_##FileId; }
