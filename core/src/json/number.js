// Number conversions of chorus_core's JSON code in WebAssembly builds (core/src/json/json.cpp),
// done by the JavaScript engine: an Emscripten JS library (--js-library), linked by every
// target that links chorus_core under Emscripten (core/CMakeLists.txt).
mergeInto(LibraryManager.library, {
  // The shortest digits that read back as x, in exponent form ("1.5e+21"), ASCII.
  chorus_js_number_to_exponential: function (x, out, cap) {
    var s = x.toExponential();
    var n = Math.min(s.length, cap);
    for (var i = 0; i < n; i++) HEAPU8[out + i] = s.charCodeAt(i);
    return n;
  },
  // A JSON number literal (already validated), correctly rounded as JSON.parse does.
  chorus_js_parse_number: function (text, len) {
    var s = "";
    for (var i = 0; i < len; i++) s += String.fromCharCode(HEAPU8[text + i]);
    return Number(s);
  },
});
