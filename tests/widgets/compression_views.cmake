# Compression study views (LASER heatmap, quantization plot), offscreen.
if(TARGET superlens_widgets)
superlens_add_qt_test(NAME test_compression_views SOURCES widgets/test_compression_views.cpp LIBS superlens_widgets LABELS widgets compression)
endif()
