# ctest driver for the differential test (see tests/tools/tests.cmake):
#   cmake -DNODE=… -DCODEC=… -DSOURCE_DIR=… -DCORPUS=… -DWORK_DIR=… -P run_differential.cmake
foreach(var NODE CODEC SOURCE_DIR CORPUS WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_differential.cmake: ${var} is not set")
  endif()
endforeach()
foreach(pkg engine.io-parser socket.io-parser)
  if(NOT EXISTS ${SOURCE_DIR}/node_modules/${pkg}/package.json)
    message(FATAL_ERROR
      "differential: ${SOURCE_DIR}/node_modules/${pkg} is missing. "
      "Install the reference parsers first: (cd ${SOURCE_DIR} && npm ci), or toolchains/setup.sh")
  endif()
endforeach()
set(_diff ${SOURCE_DIR}/tests/differential)
file(MAKE_DIRECTORY ${WORK_DIR})

execute_process(COMMAND ${CODEC} ${CORPUS}
                OUTPUT_FILE ${WORK_DIR}/chorus.out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "differential: chorus_codec failed (${rc})")
endif()
execute_process(COMMAND ${NODE} ${_diff}/js_codec.mjs ${CORPUS}
                WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_FILE ${WORK_DIR}/js.out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "differential: js_codec.mjs failed (${rc})")
endif()
execute_process(COMMAND ${NODE} ${_diff}/compare.mjs ${CORPUS} ${WORK_DIR}/chorus.out ${WORK_DIR}/js.out
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "differential: Chorus and the reference parsers disagree (outputs in ${WORK_DIR})")
endif()
