# GUI tests: the main window end to end, offscreen (tests/gui/).
if(TARGET superlens_gui)
# REVERSED: the same slots run again in reverse order (test_main_window_reversed):
# each sets up what it needs (init()), none depends on another having run first.
superlens_add_qt_test(NAME test_main_window SOURCES gui/test_main_window.cpp LIBS superlens_gui LABELS app TIMEOUT 600 REVERSED)

# superlens-cli figure and superlens --screenshot, as a script would call them.
superlens_add_script_test(NAME figure_cli
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/gui/figure_cli_test.sh
  LABELS gui cli)
endif()

# The GUI's run cache: reuse across sessions, damaged files left alone.
if(TARGET superlens_gui)
superlens_add_qt_test(NAME test_run_cache SOURCES gui/test_run_cache.cpp LIBS superlens_gui LABELS app cache TIMEOUT 300)
endif()

# Issue 19: a GGUF file of every block type in the main window (fixture gguf_quant, tests/core/model.cmake).
if(TARGET superlens_gui)
superlens_add_qt_test(NAME test_gui_gguf SOURCES gui/test_gui_gguf.cpp LIBS superlens_gui LABELS app gguf TIMEOUT 600)
target_compile_definitions(test_gui_gguf PRIVATE SUPERLENS_GGUF_QUANT_DIR="${CMAKE_BINARY_DIR}/tests/gguf-quant")
set_tests_properties(test_gui_gguf PROPERTIES FIXTURES_REQUIRED gguf_quant)
endif()

# Issue 18: vision models in the main window (image prompt, patch grid, --image figures).
if(TARGET superlens_gui)
superlens_add_qt_test(NAME test_gui_vision SOURCES gui/test_gui_vision.cpp LIBS superlens_gui LABELS app vision TIMEOUT 600)
endif()
# Issue 19: model B beside model A (the Compare view, the Model B overlay, the importance matrix in the Layer view).
if(TARGET superlens_gui)
superlens_add_qt_test(NAME test_gui_compare SOURCES gui/test_gui_compare.cpp LIBS superlens_gui LABELS app gguf TIMEOUT 600)
target_compile_definitions(test_gui_compare PRIVATE SUPERLENS_GGUF_QUANT_DIR="${CMAKE_BINARY_DIR}/tests/gguf-quant")
set_tests_properties(test_gui_compare PROPERTIES FIXTURES_REQUIRED gguf_quant)
endif()
