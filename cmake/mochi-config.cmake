# mochi-config.cmake -- find_package(mochi): the imported target mochi::mochi
# (libmochi and its headers), with no other dependency.
include("${CMAKE_CURRENT_LIST_DIR}/mochi-targets.cmake")
