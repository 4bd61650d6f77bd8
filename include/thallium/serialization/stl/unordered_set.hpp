/*
 * thallium/serialization/stl/unordered_set.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::unordered_set.
 */
#include <thallium.hpp>
