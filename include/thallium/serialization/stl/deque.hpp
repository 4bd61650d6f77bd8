/*
 * thallium/serialization/stl/deque.hpp -- kept for programs written against
 * upstream Thallium: <thallium.hpp> already serializes std::deque.
 */
#include <thallium.hpp>
