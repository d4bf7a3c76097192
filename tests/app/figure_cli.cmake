# superlens-cli figure as issue 25 ran it: clean figures (pdftotext word
# boxes), presets, and nothing on stderr. Needs the GUI widgets.
if(SUPERLENS_BUILD_GUI)
superlens_add_script_test(NAME test_figure_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_figure_cli.py
  LABELS cli figures TIMEOUT 600)
# Issue 18: figures of vision models from --image / --pixels.
superlens_add_script_test(NAME test_vision_figure_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_vision_figure_cli.py
  LABELS cli figures vision TIMEOUT 600)
endif()
