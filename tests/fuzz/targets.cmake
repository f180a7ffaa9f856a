# The Chorus fuzz targets: tests/fuzz/<name>_fuzz.cpp, seeds in corpus/<name>/, crashers
# kept in regressions/<name>/, optional libFuzzer dictionary dict/<name>.dict.
set(CHORUS_FUZZ_TARGETS
  json_parse
  base64
  utf8
  engineio_packet
  engineio_payload
  socketio_decoder
  frame_checker
  frame_parser
  engineio_server_session
  collab_update
  cluster_message
  game_snapshot
)
