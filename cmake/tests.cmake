# Unit tests: one Criterion executable per tests/unit/test_<module>.c,
# linked against the static core (never the preload object).
# Integration tests: one ctest entry per tests/integration/test_*.py, run
# with Debian's python3 and pytest against real programs under the preload.
pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion)

set(SW_PYTHON /usr/bin/python3 CACHE FILEPATH
  "Python with Debian's grpcio, grpc-tools and pytest")

# sw_unit_test(NAME SOURCES a.c b.c [REPORTER]): tests/unit/NAME.c compiled
# with exactly the module sources it tests, so that one module's state never
# leaks into another's test. REPORTER also links the reporter core.
function(sw_unit_test name)
  cmake_parse_arguments(T "REPORTER" "" "SOURCES" ${ARGN})
  set(src ${PROJECT_SOURCE_DIR}/tests/unit/${name}.c)
  if(NOT EXISTS ${src})
    return()
  endif()
  set(mods "")
  foreach(m ${T_SOURCES})
    list(APPEND mods ${PROJECT_SOURCE_DIR}/${m})
  endforeach()
  add_executable(${name} ${src} ${mods})
  target_compile_options(${name} PRIVATE ${SW_WARN})
  target_compile_definitions(${name} PRIVATE SW_UNITTESTS=1)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit
    ${PROJECT_SOURCE_DIR}/preload ${PROJECT_SOURCE_DIR}/hooks)
  target_link_libraries(${name} PRIVATE PkgConfig::CRITERION Threads::Threads
    ${CMAKE_DL_LIBS})
  if(T_REPORTER AND TARGET sw_reporter_core)
    target_link_libraries(${name} PRIVATE sw_reporter_core)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/reporter)
  endif()
  add_test(NAME unit.${name} COMMAND ${name} --jobs=2)
  set_tests_properties(unit.${name} PROPERTIES LABELS unit TIMEOUT 300)
endfunction()

sw_unit_test(test_http1 SOURCES preload/http1.c)
sw_unit_test(test_config SOURCES preload/sw_config.c)
sw_unit_test(test_filter SOURCES preload/filter.c preload/sw_config.c)
sw_unit_test(test_ring SOURCES preload/ring.c)
sw_unit_test(test_sw8 SOURCES preload/sw8.c)
sw_unit_test(test_inject SOURCES preload/inject.c)
sw_unit_test(test_conn SOURCES preload/conn.c preload/http1.c preload/filter.c
  preload/sw_config.c preload/sw8.c preload/trace.c preload/sw_stats.c
  preload/inject.c)
sw_unit_test(test_rep_assemble REPORTER)
sw_unit_test(test_rep_encode REPORTER)
sw_unit_test(test_rep_json REPORTER)

file(GLOB SW_HELPER_SRC CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/tests/helpers/*.c)
foreach(src ${SW_HELPER_SRC})
  get_filename_component(name ${src} NAME_WE)
  if(name MATCHES "^lib")
    add_library(${name} SHARED ${src})
    set_target_properties(${name} PROPERTIES PREFIX "")
  else()
    add_executable(${name} ${src})
  endif()
  target_compile_options(${name} PRIVATE ${SW_WARN})
  target_link_libraries(${name} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  if(name MATCHES "curl")
    target_link_libraries(${name} PRIVATE PkgConfig::CURL)
  endif()
  if(name MATCHES "kafka")
    pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
    target_link_libraries(${name} PRIVATE PkgConfig::RDKAFKA)
    if(TARGET sw_proto)
      target_link_libraries(${name} PRIVATE sw_proto)
    endif()
  endif()
endforeach()

if(SW_INTEGRATION)
  file(GLOB SW_INTEG_TESTS CONFIGURE_DEPENDS
    ${PROJECT_SOURCE_DIR}/tests/integration/test_*.py)
  foreach(src ${SW_INTEG_TESTS})
    get_filename_component(name ${src} NAME_WE)
    add_test(NAME integration.${name}
      COMMAND ${SW_PYTHON} -m pytest -q -p no:cacheprovider ${src})
    set_tests_properties(integration.${name} PROPERTIES
      LABELS integration TIMEOUT 900
      ENVIRONMENT "SW_TEST_BUILD_DIR=${PROJECT_BINARY_DIR};SW_TEST_PRELOAD=$<TARGET_FILE:sw_preload>;SW_TEST_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  endforeach()
endif()
