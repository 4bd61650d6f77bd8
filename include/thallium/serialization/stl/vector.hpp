/*
 * thallium/serialization/stl/vector.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::vector.
 */
#include <thallium.hpp>
