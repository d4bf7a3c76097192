# The GUI's Studies menu: LASER / quantization sweeps as background jobs, study JSON.
if(TARGET superlens_gui)
superlens_add_qt_test(NAME test_compression_studies SOURCES gui/test_compression_studies.cpp LIBS superlens_gui LABELS app compression TIMEOUT 300)
endif()
