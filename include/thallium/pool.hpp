/*
 * thallium/pool.hpp -- kept for programs written against upstream Thallium:
 * the class is in <thallium.hpp>.
 */
#include <thallium.hpp>
