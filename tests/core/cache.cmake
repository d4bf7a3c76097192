# HDF5 activation cache (issue 7): round trips, damaged files, crash and
# disk-full safety. The damage tests build foreign HDF5 files themselves, so
# they link HDF5 directly (core keeps it private).
superlens_add_core_test(NAME test_cache_roundtrip SOURCES core/test_cache_roundtrip.cpp LABELS cache)
superlens_add_core_test(NAME test_cache_damaged SOURCES core/test_cache_damaged.cpp LABELS cache)
target_link_libraries(test_cache_damaged PRIVATE hdf5::hdf5)
superlens_add_core_test(NAME test_cache_safety SOURCES core/test_cache_safety.cpp LABELS cache TIMEOUT 600)
superlens_add_core_test(NAME test_cache_mismatch SOURCES core/test_cache_mismatch.cpp LABELS cache)
target_link_libraries(test_cache_mismatch PRIVATE hdf5::hdf5)
