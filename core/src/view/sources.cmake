# View model: what the GUI's views and `superlens-cli figure` draw (snapshots
# of a run and its edited twin, the hooks each view needs). Qt-free, so it is
# tested without a QApplication; widgets/ only draws it.
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/view/build_view_snapshot.cpp)
