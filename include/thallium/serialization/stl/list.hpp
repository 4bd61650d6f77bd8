/*
 * thallium/serialization/stl/list.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::list.
 */
#include <thallium.hpp>
