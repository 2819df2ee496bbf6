# Fuzz targets: one libFuzzer executable per tests/fuzz/fuzz_<name>.c,
# built with clang (-fsanitize=fuzzer,address,undefined) together with the
# preload sources it exercises, and one ctest test fuzz.<name> (label
# "fuzz") that runs it for SW_FUZZ_SECONDS on a copy of the seed corpus
# tests/fuzz/corpus/<name>/ and fails on any crash, leak or hang.
#
# The project itself may be configured with gcc, which has no libFuzzer, so
# the targets are compiled by invoking clang directly (a custom command),
# not through CMake's C compiler. Without a clang that can link
# -fsanitize=fuzzer (Debian: clang and libclang-rt-<N>-dev) the targets are
# skipped with a message.
option(SW_FUZZ "Build the libFuzzer targets and register fuzz.* tests" ON)
set(SW_FUZZ_SECONDS 30 CACHE STRING
  "How long each fuzz.* test fuzzes (libFuzzer -max_total_time)")

if(NOT SW_FUZZ)
  return()
endif()

if(CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(SW_FUZZ_CC ${CMAKE_C_COMPILER})
else()
  find_program(SW_FUZZ_CLANG NAMES clang clang-16 clang-15 clang-14 clang-13)
  set(SW_FUZZ_CC ${SW_FUZZ_CLANG})
endif()
if(NOT SW_FUZZ_CC)
  message(STATUS "fuzz: no clang found; fuzz targets skipped")
  return()
endif()

set(SW_FUZZ_FLAGS -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=all -Wall -Wextra -Wshadow -Wno-unused-parameter)

# Can this clang link a fuzzer at all? Checked once per configuration.
if(NOT DEFINED SW_FUZZ_WORKS OR NOT SW_FUZZ_WORKS_CC STREQUAL SW_FUZZ_CC)
  set(probe_dir ${PROJECT_BINARY_DIR}/CMakeFiles/sw_fuzz_probe)
  file(MAKE_DIRECTORY ${probe_dir})
  file(WRITE ${probe_dir}/probe.c
    "#include <stddef.h>\n#include <stdint.h>\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
    " { (void)d; (void)n; return 0; }\n")
  execute_process(
    COMMAND ${SW_FUZZ_CC} ${SW_FUZZ_FLAGS} ${probe_dir}/probe.c
            -o ${probe_dir}/probe
    RESULT_VARIABLE probe_rc OUTPUT_QUIET ERROR_VARIABLE probe_err)
  if(probe_rc EQUAL 0)
    set(SW_FUZZ_WORKS ON CACHE INTERNAL "")
  else()
    set(SW_FUZZ_WORKS OFF CACHE INTERNAL "")
    message(STATUS "fuzz: ${SW_FUZZ_CC} cannot link -fsanitize=fuzzer "
      "(install libclang-rt-dev); fuzz targets skipped")
  endif()
  set(SW_FUZZ_WORKS_CC ${SW_FUZZ_CC} CACHE INTERNAL "")
endif()
if(NOT SW_FUZZ_WORKS)
  return()
endif()

# The preload sources each target is linked with.
set(SW_FUZZ_SRC_http1 preload/http1.c)
set(SW_FUZZ_SRC_filter preload/filter.c preload/sw_config.c)
set(SW_FUZZ_SRC_config preload/sw_config.c preload/filter.c)
set(SW_FUZZ_SRC_sw8 preload/sw8.c)
set(SW_FUZZ_SRC_inject preload/inject.c)

file(GLOB SW_FUZZ_TARGETS CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
file(GLOB SW_FUZZ_HEADERS CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/preload/*.h ${PROJECT_SOURCE_DIR}/tests/unit/*.h)
set(SW_FUZZ_DIR ${PROJECT_BINARY_DIR}/fuzz)
set(SW_FUZZ_BINS "")
foreach(src ${SW_FUZZ_TARGETS})
  get_filename_component(exe ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${exe})
  if(NOT DEFINED SW_FUZZ_SRC_${name})
    message(STATUS "fuzz: no source list for ${exe}; skipped "
      "(add SW_FUZZ_SRC_${name} to cmake/fuzz.cmake)")
    continue()
  endif()
  set(mods "")
  foreach(m ${SW_FUZZ_SRC_${name}})
    list(APPEND mods ${PROJECT_SOURCE_DIR}/${m})
  endforeach()
  set(bin ${SW_FUZZ_DIR}/${exe})
  add_custom_command(
    OUTPUT ${bin}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${SW_FUZZ_DIR}
    COMMAND ${SW_FUZZ_CC} ${SW_FUZZ_FLAGS}
            -I${PROJECT_SOURCE_DIR}/preload -I${PROJECT_SOURCE_DIR}/hooks
            ${src} ${mods} -o ${bin}
    DEPENDS ${src} ${mods} ${SW_FUZZ_HEADERS}
    COMMENT "clang libFuzzer target ${exe}"
    VERBATIM)
  list(APPEND SW_FUZZ_BINS ${bin})

  set(seeds ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/${name})
  if(NOT IS_DIRECTORY ${seeds})
    message(STATUS "fuzz: no seed corpus tests/fuzz/corpus/${name}; "
      "${exe} is built but not run")
    continue()
  endif()
  add_test(NAME fuzz.${name}
    COMMAND bash ${PROJECT_SOURCE_DIR}/tests/fuzz/run_fuzz.sh ${bin} ${seeds}
            ${SW_FUZZ_DIR}/${name} ${SW_FUZZ_SECONDS})
  math(EXPR fuzz_timeout "${SW_FUZZ_SECONDS} + 300")
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz
    TIMEOUT ${fuzz_timeout})
endforeach()
if(SW_FUZZ_BINS)
  add_custom_target(sw_fuzz ALL DEPENDS ${SW_FUZZ_BINS})
endif()
