/*
 * thallium/serialization/stl/array.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::array.
 */
#include <thallium.hpp>
