# Compression studies: the LASER / quantization sweeps over a model (the
# matrix edits themselves, LASER and RTN, live in src/engine). Included by
# src/analysis/sources.cmake.
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/study_runner.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/compression_study.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/compression_export.cpp)
