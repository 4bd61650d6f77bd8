/*
 * thallium/serialization/stl/tuple.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::tuple.
 */
#include <thallium.hpp>
