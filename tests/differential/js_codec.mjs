// Reference side of the differential test: runs the npm engine.io-parser / socket.io-parser
// over the corpus and prints the same canonical lines as tests/tools/codec_tool.cpp
// (see that file for the line formats).
//
// Usage: node tests/differential/js_codec.mjs <corpus.jsonl> > js.out
//
// Modelling of the transport around the parsers (what the socket.io server does before a
// parser sees the bytes):
//  - "eio" text_b64: a WebSocket text frame; ws rejects invalid UTF-8 (close 1007), so the
//    bytes are decoded with a fatal TextDecoder and a failure counts as a rejection.
//  - "payload" text_b64: an HTTP polling body; engine.io reads it with Buffer#toString(),
//    which replaces invalid UTF-8 with U+FFFD.
//  - "sio" frames: text frames are strings, binary frames Buffers (binaryType nodebuffer);
//    a thrown error or an Engine.IO error packet is a rejection.
import { readFileSync } from "node:fs";
import { decodePacket, decodePayload, encodePacket, encodePayload } from "engine.io-parser";
import { Decoder, Encoder } from "socket.io-parser";

const path = process.argv[2];
if (!path) {
  process.stderr.write("usage: node js_codec.mjs <corpus.jsonl>\n");
  process.exit(2);
}

// Keys sorted by their UTF-8 bytes, as the C++ tool sorts them.
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
const isBytes = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v);
const b64 = (v) =>
  (Buffer.isBuffer(v) ? v : v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength)).toString("base64");

// Canonical JSON, written directly as text (never through object literals, so a
// "__proto__" key stays an ordinary key). undefined follows JSON.stringify: null inside
// arrays, omitted as an object member.
function canon(v) {
  if (v === null || v === undefined) return "null";
  if (isBytes(v)) return `{"$binary":${JSON.stringify(b64(v))}}`;
  switch (typeof v) {
    case "number":
    case "string":
    case "boolean":
      return JSON.stringify(v);
    default:
      break;
  }
  if (Array.isArray(v)) return "[" + v.map((x) => canon(x)).join(",") + "]";
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort(byteOrder);
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
}

function lineText(line) {
  if (typeof line.text === "string") return line.text;
  if (typeof line.text_b64 === "string") return Buffer.from(line.text_b64, "base64");
  return undefined;
}

function eioPacketCanon(p) {
  if (isBytes(p.data)) return `{"binary":${JSON.stringify(b64(p.data))},"type":${JSON.stringify(p.type)}}`;
  return `{"data":${JSON.stringify(p.data ?? "")},"type":${JSON.stringify(p.type)}}`;
}

function eioResult(packets, encoded) {
  return `{"encoded":${JSON.stringify(encoded)},"ok":true,"packets":[${packets.map(eioPacketCanon).join(",")}]}`;
}

function runEio(line) {
  let packet;
  if (typeof line.binary === "string") {
    packet = decodePacket(Buffer.from(line.binary, "base64"), "nodebuffer");
  } else {
    let text = lineText(line);
    if (text === undefined) return `{"corpus_error":"no text"}`;
    if (typeof text !== "string") {
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(text);
      } catch {
        return `{"ok":false}`;
      }
    }
    packet = decodePacket(text, "nodebuffer");
  }
  if (packet.type === "error") return `{"ok":false}`;
  let encoded;
  encodePacket(packet, false, (e) => (encoded = e));
  return eioResult([packet], encoded);
}

function runPayload(line) {
  let text = lineText(line);
  if (text === undefined) return `{"corpus_error":"no text"}`;
  if (typeof text !== "string") text = text.toString();
  const packets = decodePayload(text, "nodebuffer");
  if (packets.some((p) => p.type === "error")) return `{"ok":false}`;
  let encoded;
  encodePayload(packets, (e) => (encoded = e));
  return eioResult(packets, encoded);
}

function sioPacketCanon(p) {
  const parts = [];
  if (p.data !== undefined) parts.push(`"data":${canon(p.data)}`);
  if (p.id !== undefined) parts.push(`"id":${canon(p.id)}`);
  parts.push(`"nsp":${JSON.stringify(p.nsp)}`);
  parts.push(`"type":${JSON.stringify(p.type)}`);
  return "{" + parts.join(",") + "}";
}

function runSio(line) {
  if (!Array.isArray(line.frames)) return `{"corpus_error":"no frames"}`;
  const decoder = new Decoder();
  const packets = [];
  decoder.on("decoded", (p) => packets.push(p));
  try {
    for (const frame of line.frames) {
      if (typeof frame === "string") {
        decoder.add(frame);
      } else if (frame && typeof frame.binary === "string") {
        decoder.add(Buffer.from(frame.binary, "base64"));
      } else if (frame && typeof frame.text_b64 === "string") {
        // A text frame is UTF-8 checked by the transport before the parser sees it.
        decoder.add(new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(frame.text_b64, "base64")));
      } else {
        return `{"corpus_error":"bad frame"}`;
      }
    }
  } catch {
    return `{"ok":false}`;
  }
  const pending = !!decoder.reconstructor;
  // Canonicalise before encoding: the encoder rewrites packets in place.
  const packetsCanon = packets.map(sioPacketCanon);
  const encoder = new Encoder();
  const encoded = packets.map((p) => {
    const [text, ...attachments] = encoder.encode({ type: p.type, nsp: p.nsp, id: p.id, data: p.data });
    return `{"attachments":[${attachments.map((a) => JSON.stringify(b64(a))).join(",")}],"text":${JSON.stringify(text)}}`;
  });
  return `{"encoded":[${encoded.join(",")}],"ok":true,"packets":[${packetsCanon.join(",")}],"pending":${pending}}`;
}

function runLine(text) {
  let line;
  try {
    line = JSON.parse(text);
  } catch {
    return `{"corpus_error":"line is not a JSON object"}`;
  }
  if (line === null || typeof line !== "object" || Array.isArray(line)) {
    return `{"corpus_error":"line is not a JSON object"}`;
  }
  switch (line.layer) {
    case "eio":
      return runEio(line);
    case "payload":
      return runPayload(line);
    case "sio":
      return runSio(line);
    default:
      return `{"corpus_error":"unknown layer"}`;
  }
}

const out = [];
for (let line of readFileSync(path, "utf8").split("\n")) {
  if (line.endsWith("\r")) line = line.slice(0, -1);
  if (/^[ \t]*$/.test(line)) continue;
  out.push(runLine(line) + "\n");
}
process.stdout.write(out.join(""));
