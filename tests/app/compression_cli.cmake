# CLI contracts of `study laser` and `study quant` (JSON/CSV/Markdown shape,
# numbers consistent with `ppl`, keep_super effect, exit codes).
superlens_add_script_test(NAME test_compression_cli
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_compression_cli.py
  LABELS app compression TIMEOUT 900)
