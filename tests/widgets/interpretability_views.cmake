# The interpretability views of issue 24 (logit lens, attention sinks,
# per-token loss) on the demo model: plotted values against core's results
# and independent recomputations, offscreen.
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_interpretability_views SOURCES widgets/test_interpretability_views.cpp LIBS superlens_widgets LABELS widgets)
endif()
