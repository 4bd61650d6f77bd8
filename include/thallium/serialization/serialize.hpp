/*
 * thallium/serialization/serialize.hpp -- kept for programs written against
 * upstream Thallium: the archives are in <thallium.hpp>.
 */
#include <thallium.hpp>
