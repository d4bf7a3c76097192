superlens_add_core_test(NAME test_engine_golden SOURCES core/test_engine_golden.cpp LABELS engine golden)
