# The bench scripts' arithmetic (issue 22), against values worked out by hand:
# bench/same_run_summary.py's ratios.
superlens_add_script_test(NAME test_same_run_summary COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_same_run_summary.py LABELS bench)
# bench/paired_decode.py against stand-in servers: the rotating order of each round and the ratio's median.
superlens_add_script_test(NAME test_paired_decode COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_paired_decode.py LABELS bench)
# bench/compare_builds.py against two stand-in builds: the alternating order, the ratios, and a run without decode steps.
superlens_add_script_test(NAME test_compare_builds COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_compare_builds.py LABELS bench)
# bench/gemv_crossover.py against a stand-in bench_forward: the rotating order, each run's environment, the ratios and the crossover.
superlens_add_script_test(NAME test_gemv_crossover COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_gemv_crossover.py LABELS bench)
# bench_forward --read-pairs on the demo model: each decode step against the reads of memory around it, recomputed.
superlens_add_script_test(NAME test_read_pairs COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_read_pairs.py LABELS bench)
