# Widget tests: views drawing real engine results, offscreen (tests/widgets/).
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_views SOURCES widgets/test_views.cpp LIBS superlens_widgets LABELS widgets)
endif()
