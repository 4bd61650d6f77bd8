/*
 * thallium/serialization/proc_input_archive.hpp -- kept for programs written against
 * upstream Thallium: the archives are in <thallium.hpp>.
 */
#include <thallium.hpp>
