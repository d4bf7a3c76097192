# CLI contracts of scan, ppl, stopwords, zeroshot and study (JSON shape,
# numbers against refs.json, exit codes). Needs the superlens-cli binary.
superlens_add_script_test(NAME test_analysis_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_analysis_cli.py
  LABELS app analysis TIMEOUT 900)
