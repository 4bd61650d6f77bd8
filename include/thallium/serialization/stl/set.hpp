/*
 * thallium/serialization/stl/set.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::set.
 */
#include <thallium.hpp>
