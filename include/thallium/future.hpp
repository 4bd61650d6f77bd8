/*
 * thallium/future.hpp -- kept for programs written against upstream Thallium:
 * everything is in <thallium.hpp>.
 */
#include <thallium.hpp>
