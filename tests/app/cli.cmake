superlens_add_script_test(NAME test_cli_contract COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_cli_contract.py LABELS cli)
