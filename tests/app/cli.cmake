superlens_add_script_test(NAME test_cli_contract COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_cli_contract.py LABELS cli)
# Every model family (GPT-2, GPT-J, NeoX, Phi, Qwen3, Gemma) through info, logits, scan, capture, figure.
superlens_add_script_test(NAME test_family_cli COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_family_cli.py LABELS cli families TIMEOUT 600)
# Every command on a read-only model folder leaves it byte-identical; outputs into it are refused.
superlens_add_script_test(NAME test_read_only_model COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_read_only_model.py LABELS cli TIMEOUT 600)
# Mixture-of-experts families (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE): info, logits, expert edits, scan, capture, study experts.
superlens_add_script_test(NAME test_moe_cli COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_moe_cli.py LABELS cli moe TIMEOUT 600)
superlens_add_script_test(NAME test_encoder_cli COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_encoder_cli.py LABELS cli families encoders vision TIMEOUT 600)
superlens_add_script_test(NAME test_encoder_laser COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_encoder_laser.py LABELS cli encoders compression TIMEOUT 600)
superlens_add_script_test(NAME test_vision_registers COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_vision_registers.py LABELS cli vision TIMEOUT 600)
# GGUF files of every block type (written at test time, fixture gguf_quant) through info, logits, scan,
# capture and compare, against the fixture script's float64 answers (issue 19).
superlens_add_script_test(NAME test_gguf_cli COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_gguf_cli.py LABELS cli gguf TIMEOUT 600)
set_tests_properties(test_gguf_cli PROPERTIES FIXTURES_REQUIRED gguf_quant)
set_property(TEST test_gguf_cli APPEND PROPERTY ENVIRONMENT "SUPERLENS_GGUF_QUANT_DIR=${CMAKE_BINARY_DIR}/tests/gguf-quant")
# Issue 15's families of damaged input (crashes, hangs, accepted-but-wrong, unbounded, messy errors, writes near the input).
superlens_add_script_test(NAME test_damaged_inputs COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_damaged_inputs.py LABELS cli TIMEOUT 300)
# The shared start of every model-running command (app/cli prepareRun).
superlens_add_script_test(NAME test_prepared_run COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_prepared_run.py LABELS cli)
