/*
 * thallium/serialization/stl/string.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::string.
 */
#include <thallium.hpp>
