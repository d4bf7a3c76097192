# Figures carry their provenance and regenerate from it (issue 24). Needs the GUI widgets.
if(SUPERLENS_BUILD_GUI)
superlens_add_script_test(NAME test_figure_provenance
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_figure_provenance.py
  LABELS cli figures TIMEOUT 900)
endif()
