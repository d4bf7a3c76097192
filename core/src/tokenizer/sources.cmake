# Tokenizers: Hugging Face tokenizer.json (BPE) and SentencePiece tokenizer.model.
list(APPEND SUPERLENS_CORE_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/added_vocabulary.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/bpe_model.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/byte_level.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/decoders.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/flat_tables.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/gguf_tokenizer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/json_fields.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/json_tokenizer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/normalizers.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/post_processors.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/pre_tokenizers.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/sentencepiece_check.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/sentencepiece_tokenizer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/text_split.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/token_ids.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/tokenizer.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/tokenizer_config.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/tokenizer_json_reader.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/unicode.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/src/tokenizer/unicode_regex.cpp)

