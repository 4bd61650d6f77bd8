/*
 * thallium/serialization/stl/multimap.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes this type.
 */
#include <thallium.hpp>
