/*
 * thallium/serialization/stl/unordered_map.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::unordered_map.
 */
#include <thallium.hpp>
