superlens_add_core_test(NAME test_model_loading SOURCES core/test_model_loading.cpp LABELS model)
