/*
 * thallium/serialization/stl/map.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::map.
 */
#include <thallium.hpp>
