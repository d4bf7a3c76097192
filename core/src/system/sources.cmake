list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/system/cpu_features.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/system/blas.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/system/output_file.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/system/gemm_path.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/system/system_report.cpp)
