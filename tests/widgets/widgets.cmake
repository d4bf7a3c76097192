# Widget tests: views drawing real engine results, offscreen (tests/widgets/).
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_views SOURCES widgets/test_views.cpp LIBS superlens_widgets LABELS widgets)
endif()
# Exported figures are journal-ready (issue 25): every view x width x style
# preset, checked from the files (pdftotext -bbox) and as drawn; legends over
# no data.
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_figure_layout SOURCES widgets/test_figure_layout.cpp LIBS superlens_widgets LABELS widgets figures TIMEOUT 900)
endif()
