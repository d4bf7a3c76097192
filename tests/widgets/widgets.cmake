# Widget tests: views drawing real engine results, offscreen (tests/widgets/).
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_views SOURCES widgets/test_views.cpp LIBS superlens_widgets LABELS widgets)
# Vision models (issue 18): the Patch grid view against the fixtures' float64 hooks, the other views on encoders.
superlens_add_qt_test(NAME test_patch_grid SOURCES widgets/test_patch_grid.cpp LIBS superlens_widgets LABELS widgets vision)
endif()
# Exported figures are journal-ready (issue 25): every view x width x style
# preset, checked from the files (pdftotext -bbox) and as drawn; legends over
# no data. The 324 figure rows run as one CTest test per view and width
# (test_figure_layout_<view>_<one|two>, 20 rows, 10-60 s each on a 2-core
# machine, by load) so `ctest -j` spreads them; test_figure_layout runs the
# other checks.
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_figure_layout SOURCES widgets/test_figure_layout.cpp LIBS superlens_widgets LABELS widgets figures TIMEOUT 600)
set_property(TEST test_figure_layout APPEND PROPERTY ENVIRONMENT "SUPERLENS_FIGURE_KINDS=none")
foreach(kind spikes layer propagation massive logits attention lens sinks loss experts patches)
  foreach(width one two)
    add_test(NAME test_figure_layout_${kind}_${width} COMMAND test_figure_layout figuresAreClean)
    set_tests_properties(test_figure_layout_${kind}_${width} PROPERTIES LABELS "gui;widgets;figures" TIMEOUT 600
      ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QT_QPA_FONTDIR=/usr/share/fonts/truetype/dejavu;SUPERLENS_RUN_CACHE=off;SUPERLENS_FIGURE_KINDS=${kind};SUPERLENS_FIGURE_WIDTHS=${width}")
  endforeach()
endforeach()
endif()
