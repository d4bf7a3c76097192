# Mixture-of-experts families (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE): tests/data/moe.
superlens_add_core_test(NAME test_moe_golden SOURCES core/test_moe_golden.cpp LABELS engine moe)
