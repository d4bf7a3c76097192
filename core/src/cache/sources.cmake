list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/cache/h5_util.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/cache/file_ops.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/cache/cache_layout.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/cache/activation_cache.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/cache/activation_cache_writer.cpp)
