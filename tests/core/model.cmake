superlens_add_core_test(NAME test_model_loading SOURCES core/test_model_loading.cpp LABELS model)
superlens_add_core_test(NAME test_gguf_reader SOURCES core/test_gguf_reader.cpp LABELS model gguf)
superlens_add_core_test(NAME test_gguf_quant SOURCES core/test_gguf_quant.cpp LABELS model gguf)
superlens_add_core_test(NAME test_imatrix SOURCES core/test_imatrix.cpp LABELS model gguf)
superlens_add_core_test(NAME test_gguf_model SOURCES core/test_gguf_model.cpp LABELS model gguf golden)
# The GGUF files of every block type (F32 ... Q8_K) that the engine and CLI tests open: written at
# test time by the seeded fixture script from tests/data/gguf/llama-q256, with their float64 answers.
set(SUPERLENS_GGUF_QUANT_DIR ${CMAKE_BINARY_DIR}/tests/gguf-quant)
add_test(NAME gguf_quant_files
  COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/fixtures/make_gguf_models.py --quantize ${SUPERLENS_GGUF_QUANT_DIR})
set_tests_properties(gguf_quant_files PROPERTIES FIXTURES_SETUP gguf_quant LABELS "model;gguf" TIMEOUT 120)
target_compile_definitions(test_gguf_model PRIVATE SUPERLENS_GGUF_QUANT_DIR="${SUPERLENS_GGUF_QUANT_DIR}")
set_tests_properties(test_gguf_model PROPERTIES FIXTURES_REQUIRED gguf_quant)
include(${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz.cmake)
superlens_add_core_test(NAME test_output_file SOURCES core/test_output_file.cpp LABELS core cache)
superlens_add_core_test(NAME test_npy SOURCES core/test_npy.cpp LABELS model vision)
superlens_add_core_test(NAME test_image_input SOURCES core/test_image_input.cpp LABELS model vision)
superlens_add_core_test(NAME test_mapped_file SOURCES core/test_mapped_file.cpp LABELS model)
