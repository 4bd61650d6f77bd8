/*
 * thallium/serialization/stl/forward_list.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes this type.
 */
#include <thallium.hpp>
