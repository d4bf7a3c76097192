# Compression studies (issue 10): LASER rank reduction back ends, RTN
# quantization helpers and the LASER / quantization sweeps. Included from
# core/CMakeLists.txt's area loop by way of src/engine/sources.cmake (one
# line there) until the core build lists this file itself.
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/truncated_svd.cpp)
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/study_runner.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/compression_studies.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/analysis/compression/compression_export.cpp)
