superlens_add_core_test(NAME test_engine_golden SOURCES core/test_engine_golden.cpp LABELS engine golden)
superlens_add_core_test(NAME test_engine_hooks SOURCES core/test_engine_hooks.cpp LABELS engine golden)
superlens_add_core_test(NAME test_engine_edits SOURCES core/test_engine_edits.cpp LABELS engine)
superlens_add_core_test(NAME test_engine_generation SOURCES core/test_engine_generation.cpp LABELS engine golden)
