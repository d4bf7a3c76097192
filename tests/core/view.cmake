# The view model (core/view): what the views draw, built and checked without Qt.
superlens_add_core_test(NAME test_view_model SOURCES core/test_view_model.cpp LABELS view golden)
