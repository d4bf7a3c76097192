# Tokenizer tests: shared expected.jsonl files, llama.cpp vectors, loading
# errors, hard cases, and the tokenizer.json components one by one.
superlens_add_core_test(NAME test_tokenizer_expected SOURCES core/test_tokenizer_expected.cpp LABELS tokenizer)
superlens_add_core_test(NAME test_tokenizer_llamacpp SOURCES core/test_tokenizer_llamacpp.cpp LABELS tokenizer)
superlens_add_core_test(NAME test_tokenizer_loading SOURCES core/test_tokenizer_loading.cpp LABELS tokenizer)
superlens_add_core_test(NAME test_tokenizer_hard_cases SOURCES core/test_tokenizer_hard_cases.cpp LABELS tokenizer)
superlens_add_core_test(NAME test_tokenizer_components SOURCES core/test_tokenizer_components.cpp LABELS tokenizer)
superlens_add_core_test(NAME test_gguf_tokenizer SOURCES core/test_gguf_tokenizer.cpp LABELS tokenizer gguf)
superlens_add_core_test(NAME test_sentencepiece_rules SOURCES core/test_sentencepiece_rules.cpp LABELS tokenizer)
