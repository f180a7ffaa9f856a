# Large fuzz inputs, generated into the build tree at configure time rather than kept in
# the source tree (the seed corpora stay small so libFuzzer's max_len stays small too).
# Each one sits at, or one past, a limit from chorus/limits.h, or nests/repeats far
# beyond what any limit allows.

# CMake strings cannot hold NUL bytes: inputs that need one live in corpus/ instead.
function(_chorus_fuzz_write dir name content)
  file(MAKE_DIRECTORY ${dir})
  file(WRITE ${dir}/${name} "${content}")
endfunction()

function(chorus_fuzz_generate_inputs out)
  string(ASCII 30 rs)      # Engine.IO record separator
  string(ASCII 255 all)    # "use the default limits" config byte
  string(ASCII 128 dflt)   # engineio_payload: default max_payload
  string(ASCII 240 159 152 128 emoji)  # U+1F600, four bytes

  string(REPEAT "[" 100000 open_100k)
  string(REPEAT "{\"a\":" 50000 objects_50k)
  string(REPEAT "a" 999998 a_999998)
  string(REPEAT "A" 1000000 b64_1m)
  string(REPEAT "1," 200000 ones)

  # json_parse (default max_payload is 1e6 bytes)
  set(d ${out}/json_parse)
  _chorus_fuzz_write(${d} brackets_100000 "${open_100k}")
  _chorus_fuzz_write(${d} objects_50000 "${objects_50k}")
  _chorus_fuzz_write(${d} string_at_max_payload "\"${a_999998}\"")
  _chorus_fuzz_write(${d} string_past_max_payload "\"${a_999998}a\"")
  _chorus_fuzz_write(${d} wide_array "[${ones}1]")

  # base64
  set(d ${out}/base64)
  _chorus_fuzz_write(${d} a_1m "${b64_1m}")
  _chorus_fuzz_write(${d} a_1m_bad_tail "${b64_1m}A")

  # utf8
  string(REPEAT "${emoji}" 100000 emoji_100k)
  set(d ${out}/utf8)
  _chorus_fuzz_write(${d} emoji_100000 "${emoji_100k}")
  string(ASCII 240 159 152 cut)  # U+1F600 missing its last byte
  _chorus_fuzz_write(${d} emoji_100000_truncated "${emoji_100k}${cut}")

  # engineio_packet
  set(d ${out}/engineio_packet)
  _chorus_fuzz_write(${d} message_1m "4${a_999998}aa")
  _chorus_fuzz_write(${d} binary_1m "b${b64_1m}")
  _chorus_fuzz_write(${d} open_deep "0${open_100k}")

  # engineio_payload: first byte >= 0x80 selects the default max_payload (1e6)
  string(REPEAT "4a${rs}" 333333 items)
  string(REPEAT "${rs}" 100000 separators)
  set(d ${out}/engineio_payload)
  _chorus_fuzz_write(${d} items_333334 "${dflt}${items}4")
  _chorus_fuzz_write(${d} separators_100000 "${dflt}${separators}")
  _chorus_fuzz_write(${d} at_max_payload "${dflt}4${a_999998}a")
  _chorus_fuzz_write(${d} past_max_payload "${dflt}4${a_999998}aa")

  # socketio_decoder: config 0x07 (max_attachments 7), separator '\n'
  string(ASCII 7 cfg)
  set(d ${out}/socketio_decoder)
  _chorus_fuzz_write(${d} event_deep "${cfg}\n2${open_100k}")
  _chorus_fuzz_write(${d} event_deep_objects "${cfg}\n2[\"a\",${objects_50k}")
  _chorus_fuzz_write(${d} binary_event_big_attachment
    "${cfg}\n51-[\"a\",{\"_placeholder\":true,\"num\":0}]\nB${a_999998}")
endfunction()
