# ctest driver for wasm_parity (see tests/wasm/tests.cmake):
#   cmake -DNODE=… -DWASM_CODEC=… -DNATIVE_CODEC=… -DCORPUS=… -DWORK_DIR=… -P run_parity.cmake
foreach(var NODE WASM_CODEC NATIVE_CODEC CORPUS WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_parity.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT EXISTS ${WASM_CODEC})
  message(FATAL_ERROR
    "wasm_parity: ${WASM_CODEC} is missing: build the wasm preset first (cmake --build --preset wasm)")
endif()
file(MAKE_DIRECTORY ${WORK_DIR})
execute_process(COMMAND ${NATIVE_CODEC} ${CORPUS}
                OUTPUT_FILE ${WORK_DIR}/native.out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wasm_parity: native chorus_codec failed (${rc})")
endif()
execute_process(COMMAND ${NODE} ${WASM_CODEC} ${CORPUS}
                OUTPUT_FILE ${WORK_DIR}/wasm.out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "wasm_parity: WASM chorus_codec failed (${rc}): ${err}")
endif()
file(READ ${WORK_DIR}/native.out native_hex HEX)
file(READ ${WORK_DIR}/wasm.out wasm_hex HEX)
if(NOT native_hex STREQUAL wasm_hex)
  # Name the first line that differs (JSON lines do not survive CMake's list handling).
  set(js [=[
const fs = require("fs");
const a = fs.readFileSync(process.argv[2], "utf8").split("\n");
const b = fs.readFileSync(process.argv[3], "utf8").split("\n");
for (let i = 0; i < Math.max(a.length, b.length); i++) {
  if (a[i] !== b[i]) {
    console.log(`first difference at output line ${i + 1}:\n  native: ${a[i]}\n  wasm:   ${b[i]}`);
    break;
  }
}
]=])
  file(WRITE ${WORK_DIR}/first_difference.cjs "${js}")
  execute_process(COMMAND ${NODE} ${WORK_DIR}/first_difference.cjs ${WORK_DIR}/native.out ${WORK_DIR}/wasm.out
                  OUTPUT_VARIABLE first)
  message(FATAL_ERROR "wasm_parity: native and WASM outputs differ; ${first}"
                      "see ${WORK_DIR}/native.out and wasm.out")
endif()
string(LENGTH "${native_hex}" len)
math(EXPR bytes "${len} / 2")
message(STATUS "wasm_parity: native and WASM outputs identical (${bytes} bytes)")
