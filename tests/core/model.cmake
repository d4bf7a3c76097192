superlens_add_core_test(NAME test_model_loading SOURCES core/test_model_loading.cpp LABELS model)
superlens_add_core_test(NAME test_gguf_reader SOURCES core/test_gguf_reader.cpp LABELS model gguf)
superlens_add_core_test(NAME test_gguf_quant SOURCES core/test_gguf_quant.cpp LABELS model gguf)
include(${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz.cmake)
