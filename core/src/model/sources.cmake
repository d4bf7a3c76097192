list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/dtype.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/mapped_file.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/safetensors.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/model_config.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/families.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/gguf_model.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/model.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/npy.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/image_input.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/image_tokens.cpp)
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/gguf.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/gguf_quant.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/imatrix.cpp)
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/model/non_finite.cpp)
# Pillow-exact resampling weights: no fused multiply-add may change a weight by an ulp.
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/src/model/image_input.cpp PROPERTIES COMPILE_OPTIONS -ffp-contract=off)
