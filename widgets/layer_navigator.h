#pragma once
// The layer strip: one row per layer, coloured by the size of its down_proj
// output spike (ratio to the layer's median, log scale), super-weight layers
// starred. Keyboard (up/down, page up/down, home/end) and mouse select a
// layer; selecting emits layerSelected.

#include <QListWidget>

#include "view_model.h"

namespace superlens::widgets {

class LayerNavigator : public QListWidget {
    Q_OBJECT
public:
    explicit LayerNavigator(QWidget* parent = nullptr);

    void setSnapshot(SnapshotPtr snapshot);
    void setSelectedLayer(int layer);
    int selectedLayer() const { return currentRow(); }

signals:
    void layerSelected(int layer);

private:
    SnapshotPtr m_snapshot;
};

}  // namespace superlens::widgets
