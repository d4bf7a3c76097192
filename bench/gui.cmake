# bench_gui_toggle: toggle -> all views updated, through the real main window
# (offscreen), against a full forward pass measured in the same run. GUI builds only.
if(SUPERLENS_BUILD_GUI AND TARGET superlens_gui)
  add_executable(bench_gui_toggle ${CMAKE_CURRENT_SOURCE_DIR}/bench_gui_toggle.cpp)
  target_link_libraries(bench_gui_toggle PRIVATE superlens_gui superlens_warnings superlens_codegen)
endif()
