# The bench scripts' arithmetic (issue 22): bench/same_run_summary.py's ratios against values worked out by hand.
superlens_add_script_test(NAME test_same_run_summary COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_same_run_summary.py LABELS bench)
