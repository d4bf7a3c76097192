# superlens-cli capture read back with h5py (Debian python3-h5py + numpy):
# layout, reference values, reuse, appends, damaged files, kill and disk full.
superlens_add_script_test(NAME capture_h5py
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_capture_h5py.py
  LABELS cache cli TIMEOUT 600)
# Image runs of vision models (issue 18): pixel values stored, reference hooks, reuse.
superlens_add_script_test(NAME test_capture_image
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_capture_image.py
  LABELS cache cli vision TIMEOUT 300)
