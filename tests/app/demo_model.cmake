# The bundled demo model (resources/models/demo): scan finds its super weight,
# zeroing it wrecks held-out perplexity, restoring the super activation
# recovers it (numbers from the model card, with margins). Needs superlens-cli.
superlens_add_script_test(NAME test_demo_model
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/app/test_demo_model.py
  LABELS app analysis demo TIMEOUT 300)
