/*
 * thallium/serialization/stl/pair.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::pair.
 */
#include <thallium.hpp>
