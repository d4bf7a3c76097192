# The committed fixtures under tests/data are what the project's scripts make:
# scripts/check_fixtures.sh --offline regenerates the reference checkpoints,
# their float64 answers and the SentencePiece expectations into a temporary
# folder and compares them byte for byte (the Hugging Face expectations need the
# npm registry: run scripts/check_fixtures.sh without --offline for those).
superlens_add_script_test(NAME fixtures_reproducible
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/check_fixtures.sh --offline
  LABELS fixtures TIMEOUT 300)
