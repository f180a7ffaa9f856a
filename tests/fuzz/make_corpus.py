#!/usr/bin/env python3
"""Writes the Chorus fuzz seed corpora: tests/fuzz/corpus/<target>/<seed name>.

Run from anywhere; it rewrites every corpus/<target>/ directory it knows and creates an
empty regressions/<target>/ (with a .keep) where there is none. Seeds stay small (well under
64 KiB) so libFuzzer's max_len stays small; the large inputs (100000 '[', 1 MB bodies) are
generated into the build tree by generate_inputs.cmake instead.

Input formats (see the header comment of each <target>_fuzz.cpp):
  json_parse, base64, utf8, engineio_packet: the raw input.
  engineio_payload: config byte (< 0x80: max_payload = byte * 8; >= 0x80: default), body.
  socketio_decoder: config byte (bits 0-2 max_attachments, bit 7 depth 8), separator byte,
    messages split on the separator; 'B' prefix = binary message.
  frame_checker: max_payload byte (* 3, 0xFF = default), fragments byte (1 + low nibble,
    bit 7 = default), then frames: header byte, length byte, payload.
  frame_parser: the same two bytes, a chunking seed byte, then raw client bytes (masked
    RFC 6455 frames).
  cluster_message: config byte (bit 7: max_json_depth 8), then one Redis adapter message
    (msgpack or JSON).

With target names as arguments, only those corpora are written.
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RS = b"\x1e"


def placeholder(n):
    return b'{"_placeholder":true,"num":%d}' % n


def json_parse():
    deep = lambda n: b"[" * n + b"]" * n
    return {
        "null": b"null",
        "true": b"true",
        "false": b"false",
        "zero": b"0",
        "minus_zero": b"-0",
        "fraction": b"-1.5e-3",
        "exp_form": b"1e21",
        "small_exp": b"1e-7",
        "max_double": b"1.7976931348623157e308",
        "min_subnormal": b"5e-324",
        "too_big": b"1e309",
        "exp_huge": b"1e999999999",
        "exp_4_digits": b"[1e1234,1e-1234]",
        "exp_5_digits": b"1e12345",
        "cve_2024_38517": b"[0.00000000001e-2147483639]",
        "unsafe_int": b"[9007199254740993,123456789012345678901234567890]",
        "number_256": b"1" * 256,
        "number_257": b"1" * 257,
        "bad_numbers": b"[01,1.,.5,-,+1,0x10,NaN,Infinity]",
        "strings": b'["","a\\u0000b","\\ud83d\\ude00","\\u2028\\u2029","\\"\\\\\\/\\b\\f\\n\\r\\t"]',
        "lone_surrogate": b'"\\ud800"',
        "lone_low_surrogate": b'"\\udc00x"',
        "raw_control": b'"a\x01b"',
        "bad_utf8": b'"\xff\xfe"',
        "overlong_utf8": b'"\xc0\xaf"',
        "utf8_raw": '"é€😀"'.encode(),
        "duplicate_keys": b'{"a":1,"b":2,"a":3}',
        "proto_key": b'{"__proto__":{"x":1},"constructor":null}',
        "nested_mixed": b'{"a":[{"b":[1,{"c":null}]},true],"d":{}}',
        "depth_128": deep(128),
        "depth_129": deep(129),
        "unclosed_100": b"[" * 100,
        "whitespace": b" \t\n\r[ 1 ,\t2 ]\n",
        "trailing_garbage": b"[1]x",
        "trailing_comma": b"[1,]",
        "bom": b"\xef\xbb\xbf[]",
        "missing_value": b'{"a"}',
        "truncated": b'{"a":[1,2',
        "empty": b"",
    }


def base64():
    return {
        "empty": b"",
        "one_byte": b"QQ==",
        "two_bytes": b"QUI=",
        "three_bytes": b"QUJD",
        "unpadded_1": b"QQ",
        "unpadded_2": b"QUI",
        "single_char": b"Q",
        "nonzero_bits": b"QR==",
        "nonzero_bits_2": b"QUJ=",
        "three_pads": b"A===",
        "all_pads": b"====",
        "pad_after_group": b"QUJD=",
        "pad_in_middle": b"QQ==QQ==",
        "partial_pad": b"QQ=",
        "pad_then_char": b"QQ=A",
        "space": b"QU JD",
        "newline": b"QUJD\n",
        "url_safe": b"-_8=",
        "all_ones": b"////",
        "plus": b"++++",
        "binary_bytes": b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "high_bit": b"QU\xffJD",
        "long": b"QUJD" * 64,
    }


def utf8():
    return {
        "ascii": b"hello, world",
        "empty": b"",
        "nul": b"a\x00b",
        "two_byte": "é".encode(),
        "three_byte": "€".encode(),
        "four_byte": "😀".encode(),
        "max_code_point": b"\xf4\x8f\xbf\xbf",
        "past_max": b"\xf4\x90\x80\x80",
        "u_ffff": b"\xef\xbf\xbf",
        "bom": b"\xef\xbb\xbf",
        "overlong_2": b"\xc0\xaf",
        "overlong_3": b"\xe0\x80\xaf",
        "overlong_4": b"\xf0\x80\x80\xaf",
        "surrogate_high": b"\xed\xa0\x80",
        "surrogate_low": b"\xed\xbf\xbf",
        "before_surrogates": b"\xed\x9f\xbf",
        "f5": b"\xf5\x80\x80\x80",
        "ff": b"\xff",
        "lone_continuation": b"\x80",
        "truncated_3": b"\xe2\x82",
        "truncated_4": b"\xf0\x9f\x98",
        "mixed": "aé€😀z".encode(),
        "valid_then_bad": "€€€".encode() + b"\xe2\x28\xa1",
    }


def engineio_packet():
    handshake = (b'0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],'
                 b'"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
    return {
        "open": handshake,
        "open_no_max_payload": b'0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":2}',
        "open_max_payload_u64": b'0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":18446744073709551615}',
        "open_max_payload_2p53": b'0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":2,"maxPayload":9007199254740993}',
        "open_negative": b'0{"sid":"a","upgrades":[],"pingInterval":-1,"pingTimeout":2.5}',
        "open_u32_overflow": b'0{"sid":"a","upgrades":[],"pingInterval":4294967296,"pingTimeout":2}',
        "open_sid_escapes": b'0{"sid":"\\u0000\\"\\ud83d\\ude00","upgrades":["websocket","polling"],"pingInterval":1e3,"pingTimeout":0}',
        "open_bad_upgrades": b'0{"sid":"a","upgrades":"websocket","pingInterval":1,"pingTimeout":2}',
        "open_missing_sid": b'0{"upgrades":[],"pingInterval":1,"pingTimeout":2}',
        "open_empty": b"0{}",
        "open_cve": b"0[0.00000000001e-2147483639]",
        "open_exp_huge": b"01e999999999",
        "close": b"1",
        "ping": b"2",
        "ping_probe": b"2probe",
        "pong_probe": b"3probe",
        "message": b"4hello",
        "message_empty": b"4",
        "message_utf8": "4é€😀".encode(),
        "message_rs": b"4a\x1eb",
        "upgrade": b"5",
        "noop": b"6",
        "type_7": b"7",
        "type_letter": b"x",
        "empty": b"",
        "binary": b"bAQID",
        "binary_empty": b"b",
        "binary_unpadded": b"bAQ",
        "binary_bad": b"b!!!",
        "binary_pad_only": b"b====",
        "bad_utf8": b"4\xff",
        "truncated_utf8": b"4\xe2\x82",
    }


def engineio_payload():
    dflt = b"\x80"
    limit_8 = b"\x01"   # max_payload 8
    limit_0 = b"\x00"   # max_payload 0
    return {
        "two_messages": dflt + b"4hello" + RS + b"4world",
        "mixed": dflt + b"2" + RS + b"3probe" + RS + b"6" + RS + b"bAQID" + RS + b"4x",
        "single": dflt + b"4",
        "empty_items": dflt + b"4" + RS + b"4" + RS + b"4",
        "empty_body": dflt,
        "lone_rs": dflt + RS,
        "leading_rs": dflt + RS + b"4a",
        "trailing_rs": dflt + b"4a" + RS,
        "double_rs": dflt + b"4a" + RS + RS + b"4b",
        "only_rs": dflt + RS * 3,
        "bad_item": dflt + b"4a" + RS + b"7b",
        "bad_base64": dflt + b"b!!" + RS + b"4a",
        "bad_utf8": dflt + b"4a" + RS + b"4\xff",
        "at_limit_8": limit_8 + b"4abcdefg",
        "past_limit_8": limit_8 + b"4abcdefgh",
        "at_limit_8_items": limit_8 + b"4a" + RS + b"4b" + RS + b"2",
        "limit_0": limit_0 + b"4",
        "limit_0_empty": limit_0,
        "open": dflt + b'0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":2}' + RS + b"40",
        "socketio_inside": dflt + b'42["chat","hi"]' + RS + b'451-["up",' + placeholder(0) + b"]" + RS + b"bAQID",
        "many_pings": dflt + RS.join([b"2"] * 200),
    }


def socketio_decoder():
    def seed(config, *messages, sep=b"\n"):
        return bytes([config]) + sep + sep.join(messages)

    ev = b'["up",' + placeholder(0) + b"]"
    two = b'["up",' + placeholder(0) + b"," + placeholder(1) + b"]"
    return {
        "connect": seed(2, b"0", b"0/admin,"),
        "connect_auth": seed(2, b'0{"token":"abc"}'),
        "connect_nsp_auth": seed(2, b'0/admin,{"token":1}'),
        "connect_array": seed(2, b"0[]"),
        "disconnect": seed(2, b"1", b"1/admin,", b"1{}"),
        "event": seed(2, b'2["hello"]'),
        "event_args": seed(2, b'2["hello",1,{"a":[true,null,"x"]},-0.5]'),
        "event_ack": seed(2, b'212["ev"]', b'2/chat,12["ev"]'),
        "ack_id_max": seed(2, b'29007199254740991["a"]'),
        "ack_id_past_max": seed(2, b'29007199254740992["a"]'),
        "ack_id_20_digits": seed(2, b'212345678901234567890["a"]', b'3/x,99999999999999999999[]'),
        "reserved_events": seed(2, b'2["connect"]', b'2["disconnecting"]', b'2["newListener"]', b'2["error"]'),
        "bad_events": seed(2, b"2[]", b"2[1]", b'2"x"', b"2", b"2{}"),
        "ack": seed(2, b"3[]", b'31["ok"]', b"3/chat,5[1,2]", b"3{}"),
        "connect_error": seed(2, b'4{"message":"no"}', b'4"err"', b"4", b"41"),
        "binary_event": seed(2, b"51-" + ev, b"B\x01\x02\x03"),
        "binary_event_two": seed(2, b"52-" + two, b"Babc", b"Bdef"),
        "binary_event_nsp_ack": seed(2, b"5/chat,1-7" + ev, b"Bx"),
        "binary_ack": seed(2, b"61-3[" + placeholder(0) + b"]", b"Bx"),
        "binary_empty_attachment": seed(2, b"51-" + ev, b"B"),
        "placeholder_out_of_range": seed(2, b'51-["up",' + placeholder(1) + b"]", b"Bx"),
        "placeholder_negative": seed(2, b'51-["up",' + placeholder(-1) + b"]", b"Bx"),
        "placeholder_fraction": seed(2, b'51-["up",{"_placeholder":true,"num":0.5}]', b"Bx"),
        "placeholder_not_binary": seed(2, b'2["a",' + placeholder(0) + b"]"),
        "placeholder_twice": seed(2, b'51-["a",' + placeholder(0) + b"," + placeholder(0) + b"]", b"Bx"),
        "placeholder_extra_keys": seed(2, b'51-["a",{"_placeholder":true,"num":0,"x":1}]', b"Bx"),
        "attachments_huge": seed(2, b'599999999999999999999-["a"]'),
        "attachments_2p32": seed(2, b'54294967297-["a"]', b"Bx"),
        "attachments_at_limit": seed(3, b"53-[\"a\"," + placeholder(2) + b"]", b"Ba", b"Bb", b"Bc"),
        "attachments_past_limit": seed(2, b"53-[\"a\"," + placeholder(2) + b"]", b"Ba", b"Bb", b"Bc"),
        "attachments_zero": seed(0, b'50-["a"]', b'51-["a"]'),
        "attachments_malformed": seed(2, b'5-["a"]', b'51["a"]', b"5", b"51-"),
        "text_while_waiting": seed(2, b"51-" + ev, b'2["a"]', b"Bx"),
        "binary_unexpected": seed(2, b"Bxyz", b'2["a"]'),
        "nsp_no_comma": seed(2, b"0/admin", b'2/admin["a"]', b"0admin,"),
        "cve_2024_38517": seed(2, b'2["a",0.00000000001e-2147483639]'),
        "exp_huge": seed(2, b'2["a",1e999999999]'),
        "depth_8": seed(0x82, b'2["a",[[[[[[1]]]]]]]', b'2["a",[[[[[[[1]]]]]]]]'),
        "deep_200": seed(2, b'2["a",' + b"[" * 200),
        "sep_rs_binary_newline": seed(2, b"51-" + ev, b"B\n\n\x00", sep=RS),
    }


def frame_checker():
    def frame(header, payload=b""):
        assert len(payload) < 256
        return bytes([header, len(payload)]) + payload

    def seed(*frames, payload=0xFF, fragments=0x80):
        return bytes([payload, fragments]) + b"".join(frames)

    def close(code, reason=b""):
        return frame(0x88, code.to_bytes(2, "big") + reason)

    one_byte_fragments = lambda n: frame(0x01, b"a") + frame(0x00, b"a") * (n - 2) + frame(0x80, b"a")
    return {
        "text": seed(frame(0x81, b"hello"), frame(0x81)),
        "binary": seed(frame(0x82, b"\x00\xff\xfe")),
        "fragmented": seed(frame(0x01, b"hel"), frame(0x00, b"l"), frame(0x80, b"o")),
        "ping_between_fragments": seed(frame(0x02, b"ab"), frame(0x89, b"p"), frame(0x80, b"cd")),
        "ping_pong": seed(frame(0x89, b"ping"), frame(0x8A, b"pong"), frame(0x8A)),
        "ping_125": seed(frame(0x89, b"p" * 125)),
        "ping_126": seed(frame(0x89, b"p" * 126)),
        "ping_fragmented": seed(frame(0x09, b"p")),
        "close_empty": seed(frame(0x88), frame(0x81, b"late")),
        "close_normal": seed(close(1000, b"bye"), frame(0x89)),
        "close_one_byte": seed(frame(0x88, b"\x03")),
        "close_0": seed(close(0)),
        "close_999": seed(close(999)),
        "close_1004": seed(close(1004)),
        "close_1005": seed(close(1005)),
        "close_1015": seed(close(1015)),
        "close_1016": seed(close(1016)),
        "close_3000": seed(close(3000)),
        "close_4999": seed(close(4999)),
        "close_5000": seed(close(5000)),
        "close_reason_bad_utf8": seed(close(1000, b"\xff")),
        "close_reason_123": seed(close(1000, b"r" * 123)),
        "close_reason_124": seed(close(1000, b"r" * 124)),
        "rsv1": seed(frame(0xC1, b"a")),
        "reserved_opcodes": seed(frame(0x83), frame(0x8B)),
        "continuation_first": seed(frame(0x80, b"a")),
        "data_during_fragments": seed(frame(0x01, b"a"), frame(0x81, b"b")),
        "text_bad_utf8": seed(frame(0x81, b"\xff")),
        "utf8_split": seed(frame(0x01, b"\xe2\x82"), frame(0x80, b"\xac")),
        "utf8_split_bad": seed(frame(0x01, b"\xe2"), frame(0x80, b"a")),
        "utf8_fail_fast": seed(frame(0x01, b"\xe0\x80"), frame(0x80, b"\x80")),
        "utf8_truncated": seed(frame(0x81, b"\xe2\x82")),
        "utf8_surrogate": seed(frame(0x81, b"\xed\xa0\x80")),
        "payload_at_limit": seed(frame(0x81, b"abcdef"), frame(0x01, b"abc"), frame(0x80, b"def"), payload=2),
        "payload_past_limit": seed(frame(0x01, b"abc"), frame(0x80, b"defg"), payload=2),
        "payload_limit_0": seed(frame(0x81), frame(0x82, b"x"), payload=0),
        "fragments_at_limit": seed(one_byte_fragments(3), fragments=0x02),
        "fragments_past_limit": seed(one_byte_fragments(4), fragments=0x02),
        "fragments_1024": seed(one_byte_fragments(1024)),
        "fragments_1025": seed(one_byte_fragments(1025)),
    }


def frame_parser():
    def length_field(n, form=None, masked=True):
        m = 0x80 if masked else 0
        if form is None:
            form = 7 if n <= 125 else 16 if n <= 0xFFFF else 64
        if form == 7:
            return bytes([m | n])
        if form == 16:
            return bytes([m | 126]) + n.to_bytes(2, "big")
        return bytes([m | 127]) + n.to_bytes(8, "big")

    def frame(header, payload=b"", key=b"\0\0\0\0", form=None):
        masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return bytes([header]) + length_field(len(payload), form) + key + masked

    def seed(*frames, payload=0xFF, fragments=0x80, chunks=0x00):
        return bytes([payload, fragments, chunks]) + b"".join(frames)

    def close(code, reason=b""):
        return frame(0x88, code.to_bytes(2, "big") + reason)

    key = b"\x37\xfa\x21\x3d"
    return {
        "text": seed(frame(0x81, b"hello"), frame(0x81)),
        "text_masked": seed(frame(0x81, b"hello, masked world", key), chunks=0x05),
        "binary": seed(frame(0x82, b"\x00\xff\xfe", key)),
        "fragmented": seed(frame(0x01, b"hel"), frame(0x00, b"l", key), frame(0x80, b"o")),
        "interleaved_control": seed(frame(0x02, b"ab"), frame(0x89, b"p"), frame(0x00, b"cd"),
                                    frame(0x8A), frame(0x80, b"ef"), chunks=0x81),
        "len_125": seed(frame(0x82, b"x" * 125)),
        "len_126": seed(frame(0x82, b"x" * 126, key)),
        "len_65535": seed(frame(0x82, b"y" * 65535)[:300], chunks=0x83),
        "len_65536": seed(frame(0x82, b"y" * 65536)[:300]),
        "len_16_not_shortest": seed(frame(0x81, b"a" * 125, form=16)),
        "len_64_not_shortest": seed(frame(0x81, b"a" * 200, form=64)),
        "len_64_top_bit": seed(b"\x82" + length_field(1 << 63, 64)),
        "len_2gib": seed(b"\x82" + length_field(2 << 30) + key),
        "len_past_limit": seed(b"\x82" + length_field(1000001)),
        "unmasked": seed(b"\x81" + length_field(5, masked=False) + b"hello"),
        "ping_125": seed(frame(0x89, b"p" * 125)),
        "ping_126": seed(frame(0x89, b"p" * 126)),
        "ping_fragmented": seed(frame(0x09, b"p")),
        "rsv1": seed(frame(0xC1, b"a")),
        "reserved_opcode": seed(frame(0x83)),
        "continuation_first": seed(frame(0x80, b"a")),
        "data_during_fragments": seed(frame(0x01, b"a"), frame(0x81, b"b")),
        "close_normal": seed(close(1000, b"bye"), frame(0x81, b"late")),
        "close_empty": seed(frame(0x88)),
        "close_one_byte": seed(frame(0x88, b"\x03")),
        "close_1005": seed(close(1005)),
        "close_reason_bad_utf8": seed(close(1000, b"\xff")),
        "close_reason_123": seed(close(4999, b"r" * 123)),
        "close_in_fragments": seed(frame(0x01, b"ab"), close(1001)),
        "utf8_split": seed(frame(0x01, b"\xe2\x82"), frame(0x80, b"\xac"), chunks=0x01),
        "utf8_fail_fast": seed(frame(0x01, b"\xe0\x80"), frame(0x80, b"\x80")),
        "utf8_truncated": seed(frame(0x81, b"\xe2\x82")),
        "payload_at_limit": seed(frame(0x01, b"abc"), frame(0x80, b"def"), payload=2),
        "payload_past_limit": seed(frame(0x01, b"abc"), frame(0x80, b"defg"), payload=2),
        "fragments_at_limit": seed(frame(0x01, b"a"), frame(0x00, b"b"), frame(0x80, b"c"), fragments=0x02),
        "fragments_past_limit": seed(frame(0x01, b"a"), frame(0x00, b"b"), frame(0x00, b"c"),
                                     frame(0x80, b"d"), fragments=0x02),
        "truncated_header": seed(b"\x81\xfe\x01"),
        "truncated_payload": seed(frame(0x81, b"hello")[:-2]),
    }


def cluster_message():
    h = bytes.fromhex
    dflt, shallow = b"\x00", b"\x80"
    nested = lambda n: b"\x91" * (n - 1) + b"\x90"
    return {
        # The observed broadcasts (notepack's bytes): a room with a binary argument, volatile
        # with except, the emitter's field order.
        "broadcast_room": dflt + h("93a63153564e664883a47479706502a46461746193a568656c6c6fa5776f726c64c403010203a36e"
                                   "7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380"),
        "broadcast_volatile": dflt + h("93a63153564e664883a47479706502a46461746192a5706c61696e81a16101a36e7370a12f83a5"
                                       "726f6f6d7390a665786365707491a5726f6f6d32a5666c61677381a8766f6c6174696c65c3"),
        "broadcast_emitter": dflt + h("93a7656d697474657283a47479706502a46461746193a46e657773a26869c40109a36e7370a12f83"
                                      "a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707490"),
        "request_broadcast_ack": dflt + h("85a3756964a63153564e6648a9726571756573744964a6504951586c73a47479706507a67061"
                                          "636b657483a47479706502a46461746192a361736b2aa36e7370a12fa46f70747383a5726f6f6d"
                                          "7390a665786365707490a5666c61677381a774696d656f7574cd07d0"),
        "response_ack": dflt + h("83a47479706509a9726571756573744964a6504951586c73a67061636b6574a9616e737765722d3432"),
        "request_fetch": dflt + b'{"uid":"1SVNfH","requestId":"XKWnyP","type":5,"opts":{"rooms":["room1"],"except":[]}}',
        "request_join": dflt + b'{"uid":"1SVNfH","type":2,"opts":{"rooms":["room1"],"except":[]},"rooms":["room2"]}',
        "request_emit": dflt + b'{"uid":"1SVNfH","requestId":"okZs1P","type":6,"data":["hello-servers",1,"x"]}',
        "request_all_rooms": dflt + b'{"uid":"1SVNfH","requestId":"Qo1aQv","type":1}',
        "request_disconnect": dflt + b'{"type":4,"opts":{"rooms":[],"except":[]},"close":true}',
        "request_legacy": dflt + b'{"uid":"u","requestId":"q","type":3,"sid":"abc","room":12}',
        "request_sockets": dflt + b'{"uid":"old","requestId":"s1","type":0,"rooms":["a",5]}',
        "response_fetch": dflt + b'{"requestId":"XKWnyP","sockets":[{"id":"rLj1","handshake":{"auth":{"token":"t"}},'
                                 b'"rooms":["rLj1","room1"],"data":{"user":"B"}}]}',
        "response_emit": dflt + b'{"type":6,"requestId":"okZs1P","data":"B-reply"}',
        "response_count": dflt + b'{"type":8,"requestId":"PIQXls","clientCount":1}',
        "response_rooms": dflt + b'{"requestId":"Qo1aQv","rooms":["a",3]}',
        "response_legacy": dflt + b'{"requestId":"legacy"}',
        # msgpack values: every form, ext forms, keys, limits.
        "ints": dflt + h("9a007fcc80cd0100ce00010000cf0000000100000000ffe0d080d18000d280000000"),
        "floats": dflt + h("93cb3ff8000000000000ca3fc00000cb7ff8000000000000"),
        "strings_bins": dflt + h("94a0a3616263d903616263c403010203"),
        "timestamps": dflt + h("94d6ff00000000d7ff72ade9006b14d5a0c70cff3b8b87c0ffffffffffffffffc0"),
        "legacy_ext": dflt + h("94d40000d700000001a249627ae1c70300010203c800020001ff"),
        "map_keys": dflt + h("8401a161fea162cb3ff8000000000000a163a16101"),
        "duplicate_keys": dflt + h("83a16101a16202a161d40000"),
        "unknown_ext": dflt + h("d40500"),
        "bad_utf8": dflt + h("a1ff"),
        "trailing": dflt + h("c0c0"),
        "truncated": dflt + h("93a6315356"),
        "huge_header": dflt + h("ddffffffff"),
        "depth_8": shallow + nested(8),
        "depth_9": shallow + nested(9),
        "depth_128": dflt + nested(128),
        "depth_129": dflt + nested(129),
        # The streams adapter: a pub/sub message (@msgpack/msgpack), a stream entry (fields and
        # values split at NUL), a session blob (base64 msgpack) and an offset.
        "streams_pubsub": dflt + h("84a47479706509a46461746182a9726571756573744964a464316365a67061636b657492a568656c"
                                   "6c6f01a3756964b031663032356435363831613965383165a36e7370a12f"),
        "streams_entry": dflt + b"\0".join([b"uid", b"4f34", b"nsp", b"/", b"type", b"3", b"data",
                                            b'{"packet":{"type":2,"data":["e1","first"]},"opts":{"rooms":["room1"],'
                                            b'"except":[],"flags":{}}}']),
        "streams_entry_binary": dflt + b"\0".join([b"uid", b"4f34", b"nsp", b"/", b"type", b"3", b"data",
                                                   b"gqZwYWNrZXSCpHR5cGUCpGRhdGGSo2JpbsQCAQKkb3B0c4Olcm9vbXOQpmV4Y2VwdJClZmxhZ3OA"]),
        "streams_session": dflt + b"hKNzaWSic2GjcGlkonBhpXJvb21zkqJzYaVyb29tMaRkYXRhgaFuBw==",
        "streams_offset": dflt + b"1796527547537-18446744073709551615",
    }


TARGETS = {
    "json_parse": json_parse,
    "base64": base64,
    "utf8": utf8,
    "engineio_packet": engineio_packet,
    "engineio_payload": engineio_payload,
    "socketio_decoder": socketio_decoder,
    "frame_checker": frame_checker,
    "frame_parser": frame_parser,
    "cluster_message": cluster_message,
}


def main():
    only = sys.argv[1:]
    for name, make in TARGETS.items():
        if only and name not in only:
            continue
        seeds = make()
        corpus = os.path.join(HERE, "corpus", name)
        shutil.rmtree(corpus, ignore_errors=True)
        os.makedirs(corpus)
        for seed_name, content in seeds.items():
            assert len(content) < 64 * 1024, seed_name
            with open(os.path.join(corpus, seed_name), "wb") as f:
                f.write(content)
        regressions = os.path.join(HERE, "regressions", name)
        os.makedirs(regressions, exist_ok=True)
        if not os.listdir(regressions):
            open(os.path.join(regressions, ".keep"), "wb").close()
        print(f"{name}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
