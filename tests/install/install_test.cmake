# Script mode: install into a scratch prefix (not on PATH), then
#  - a CMake consumer that sets no C++ standard and finds no dependency itself: configure,
#    build, run with a PATH that holds no rmpi (it must find the installed rmpi-node);
#  - a pkg-config consumer: compile with `pkg-config --cflags --libs rmpi`, run, and run under
#    the installed rmpirun without the prefix on PATH;
#  - the installed rmpirun(1) man page.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()
set(expected_first_line "consumer: \\(set \"user0\" 100\\) round-tripped; partition 4\\+3")
# PATH without the prefix (nor the build tree): only system tools.
set(system_path "/usr/bin:/bin")

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/consumer -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_CXX_COMPILER=${CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${CMAKE_COMMAND} -E env PATH=${system_path} --unset=RMPI_NODE_PATH
    ${WORK_DIR}/consumer/consumer)
if(NOT last_output MATCHES "${expected_first_line}")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
if(NOT last_output MATCHES "consumer: node ${prefix}/bin/rmpi-node up as PLACE ")
  message(FATAL_ERROR "the consumer did not start the installed rmpi-node: ${last_output}")
endif()
message(STATUS "installed rmpi found and used by CMake: ${last_output}")

# pkg-config: the .pc finds its prefix from its own directory.
find_program(PKG_CONFIG pkg-config REQUIRED)
execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/lib/pkgconfig
                        ${PKG_CONFIG} --cflags --libs rmpi
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs rmpi failed: ${err}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run(${CXX_COMPILER} ${SOURCE_DIR}/main.cpp -o ${WORK_DIR}/pkg-config-consumer ${flags})
# Built outside CMake, it learns nothing of the prefix: it finds rmpi-node in PATH.
run(${CMAKE_COMMAND} -E env PATH=${prefix}/bin:${system_path} --unset=RMPI_NODE_PATH
    ${WORK_DIR}/pkg-config-consumer)
if(NOT last_output MATCHES "${expected_first_line}")
  message(FATAL_ERROR "unexpected pkg-config consumer output: ${last_output}")
endif()
message(STATUS "installed rmpi found and used by pkg-config: ${last_output}")
# Under the installed rmpirun, with nothing of rmpi on PATH: the rank spawns the rmpi-node that
# runs it (rmpi-node exports RMPI_NODE_PATH to what it starts).
run(${CMAKE_COMMAND} -E env PATH=${system_path} --unset=RMPI_NODE_PATH
    ${prefix}/bin/rmpirun -n 1 ${WORK_DIR}/pkg-config-consumer)
if(NOT last_output MATCHES "${expected_first_line}")
  message(FATAL_ERROR "unexpected pkg-config consumer output under rmpirun: ${last_output}")
endif()
if(NOT last_output MATCHES "consumer: node ${prefix}/bin/rmpi-node up as PLACE ")
  message(FATAL_ERROR "the pkg-config consumer under rmpirun did not start the installed "
                      "rmpi-node: ${last_output}")
endif()
message(STATUS "pkg-config consumer under the installed rmpirun: ${last_output}")

# The man page: generated from --help, installed in share/man/man1.
set(man ${prefix}/share/man/man1/rmpirun.1)
if(NOT EXISTS ${man})
  message(FATAL_ERROR "no man page installed at ${man}")
endif()
file(READ ${man} page)
foreach(part ".TH RMPIRUN \"1\"" "hostfile" "output\\-filename" "genv" "OMPI_COMM_WORLD_RANK")
  string(FIND "${page}" "${part}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the man page ${man} lacks '${part}'")
  endif()
endforeach()
