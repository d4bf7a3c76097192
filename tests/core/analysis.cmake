# Analysis: layer statistics, super-weight scan, massive activations,
# measures (perplexity, stopwords, zero-shot), published table, studies.
superlens_add_core_test(NAME test_analysis_layer_stats SOURCES core/test_analysis_layer_stats.cpp LABELS analysis golden)
superlens_add_core_test(NAME test_analysis_super_weights SOURCES core/test_analysis_super_weights.cpp LABELS analysis golden)
superlens_add_core_test(NAME test_analysis_massive SOURCES core/test_analysis_massive.cpp LABELS analysis golden)
superlens_add_core_test(NAME test_analysis_metrics SOURCES core/test_analysis_metrics.cpp LABELS analysis golden)
superlens_add_core_test(NAME test_analysis_superweight_study SOURCES core/test_analysis_superweight_study.cpp LABELS analysis)
superlens_add_core_test(NAME test_analysis_bootstrap SOURCES core/test_analysis_bootstrap.cpp LABELS analysis)
superlens_add_core_test(NAME test_analysis_logit_lens SOURCES core/test_analysis_logit_lens.cpp LABELS analysis golden)
superlens_add_core_test(NAME test_analysis_sinks_loss SOURCES core/test_analysis_sinks_loss.cpp LABELS analysis golden)
