# Compression (issue 10): LASER rank reduction, RTN weight quantization,
# activation quantization, and the LASER / quantization studies.
superlens_add_core_test(NAME test_laser SOURCES core/test_laser.cpp LABELS compression laser)
superlens_add_core_test(NAME test_laser_engine SOURCES core/test_laser_engine.cpp LABELS compression laser engine)
superlens_add_core_test(NAME test_rtn SOURCES core/test_rtn.cpp LABELS compression rtn)
superlens_add_core_test(NAME test_rtn_engine SOURCES core/test_rtn_engine.cpp LABELS compression rtn engine)
superlens_add_core_test(NAME test_compression_study SOURCES core/test_compression_study.cpp LABELS compression study)
