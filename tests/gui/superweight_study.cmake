# Issue 23: the GUI's super-weight study (conditions with intervals, null
# control, joint ablation) against superlens-cli study superweight --json.
if(TARGET superlens_gui AND TARGET superlens-cli)
superlens_add_qt_test(NAME test_superweight_study SOURCES gui/test_superweight_study.cpp LIBS superlens_gui LABELS app analysis TIMEOUT 600)
add_dependencies(test_superweight_study superlens-cli)
endif()
