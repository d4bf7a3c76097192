# CLI contracts of scan, ppl, stopwords, zeroshot and study (JSON shape,
# numbers against refs.json, exit codes). Needs the superlens-cli binary.
superlens_add_script_test(NAME test_analysis_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_analysis_cli.py
  LABELS app analysis TIMEOUT 900)
# Intervals of the standalone ppl / stopwords / zeroshot commands, recomputed
# by brute force from their per-unit output (issue 23).
superlens_add_script_test(NAME test_measure_intervals_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_measure_intervals_cli.py
  LABELS app analysis TIMEOUT 300)
# --compute bf16|fp16 against torch bf16/fp16 runs of the Llama and GPT-2 fixtures
# (tests/data/precision/refs.json, scripts/fixtures/make_precision_refs.py).
superlens_add_script_test(NAME test_precision_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_precision_cli.py
  LABELS app engine TIMEOUT 300)
# Joint ablation of super weights, experts and massive activations against
# brute-force passes of every subset (issue 23).
superlens_add_script_test(NAME test_joint_ablation_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_joint_ablation_cli.py
  LABELS app analysis moe TIMEOUT 600)
